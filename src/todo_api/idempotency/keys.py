"""The `Idempotency-Key` header and the fingerprint of the request that carries it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from starlette.requests import Request

from todo_api.errors import BadRequestError

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
_VISIBLE_ASCII = frozenset(range(0x21, 0x7F))
# The same rules as a regular expression, for the OpenAPI document (clients and the fuzzer):
# a key that does not start with a quote; one that starts with a quote but does not end
# with one (or is that one character); or the quoted form, whose content is visible ASCII
# with `"` and `\` escaped by a backslash. Tests check that it agrees with the parser.
KEY_PATTERN = (
    r'^(?:[!#-~][!-~]{0,254}|"[!-~]{0,253}[!#-~]|"'
    r'|"(?:[!#-\[\]-~]|\\["\\]){1,255}")$'
)
_INVALID_KEY = (
    "The Idempotency-Key header must be 1 to 255 visible ASCII characters, optionally "
    'quoted ("abc"), and given once.'
)


def idempotency_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of a request's raw ASGI headers, or None without one; 400 when malformed.

    Reads the raw header list (ASGI servers give names in lower case): requests without the
    header pay one pass over their few headers and nothing else.
    """
    values = [value for name, value in headers if name == HEADER]
    if not values:
        return None
    if len(values) > 1:
        raise BadRequestError(_INVALID_KEY)
    key = _unquote(values[0])
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not _VISIBLE_ASCII.issuperset(key):
        raise BadRequestError(_INVALID_KEY)
    return key.decode("ascii")


def _unquote(value: bytes) -> bytes:
    """The draft's Structured Field string form: `"abc"` means abc, `\\"` and `\\\\` escape."""
    if not (len(value) >= 2 and value.startswith(b'"') and value.endswith(b'"')):
        return value
    inner = value[1:-1]
    unescaped = bytearray()
    escaping = False
    for byte in inner:
        if escaping:
            if byte not in b'"\\':
                raise BadRequestError(_INVALID_KEY)
            unescaped.append(byte)
            escaping = False
        elif byte == ord("\\"):
            escaping = True
        elif byte == ord('"'):
            raise BadRequestError(_INVALID_KEY)
        else:
            unescaped.append(byte)
    if escaping:
        raise BadRequestError(_INVALID_KEY)
    return bytes(unescaped)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """A hash of what makes two requests "the same" for a key: method, path and the JSON
    value of the body, whatever its spacing or key order."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        # Not JSON (the routes would refuse it anyway): the bytes themselves, marked apart.
        canonical = b"raw:" + body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """What the idempotency rules need of a request that carries a key."""

    key: str
    fingerprint: str


async def idempotent_request(request: Request) -> IdempotentRequest | None:
    """The request's key and fingerprint; None without a key (400 when it is malformed).

    Called by the route after FastAPI has validated the request, so a request that breaks a
    rule answers 422 first, as it would without a key.
    """
    key = idempotency_key(request.scope["headers"])
    if key is None:
        return None
    body = await request.body()
    return IdempotentRequest(key, request_fingerprint(request.method, request.scope["path"], body))
