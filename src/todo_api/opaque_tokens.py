"""Opaque tokens that the service hands to a client and later takes back: list cursors and
sync tokens.

A token is `base64url(JSON payload) "." base64url(MAC)`. The MAC (HMAC-SHA256, cut to 128
bits) covers the token's purpose, the user it was issued to and a context string (the hash
of a list query's filters, for cursors), none of which travel in the token: a token made for
another purpose, user or query fails verification exactly like a forged one. The payload is
not secret (it is an id and a sort key the client has already seen), only unforgeable.

The key is derived from SERVER_SECRET (by default JWT_SECRET) with a label of its own, so the
same secret never signs two kinds of thing, and every instance accepts the others' tokens.
Without either there is nothing to derive from: each process then signs with a random key,
and its tokens stop verifying on other instances and after a restart (clients get 422 and
start over). The start-up log says so; production refuses to start.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

import orjson

from todo_api.keys import derive_key

_KEY_LABEL = b"todo-api opaque tokens v1"
_MAC_BYTES = 16
# Generous for a payload of a few numbers and a sort key of at most 255 characters; a
# longer token is refused before any decoding work.
MAX_OPAQUE_TOKEN_LENGTH = 2048


class InvalidOpaqueTokenError(Exception):
    """Malformed, tampered with, or made for another purpose, user or query."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OpaqueTokens:
    def __init__(self, secret: str | None) -> None:
        self.shared = secret is not None
        self._key = derive_key(secret, _KEY_LABEL)

    def _mac(self, purpose: str, owner: str, context: str, body: bytes) -> bytes:
        # NUL separators: none of the parts can contain one (a subject is a JWT string
        # claim, but a NUL inside it would still only make a different, unguessable MAC).
        message = b"\0".join((purpose.encode(), owner.encode(), context.encode(), body))
        # The one-shot form: a list page signs its next cursor on every request, and
        # hmac.new() costs twice as much (about 7 us against 4 here).
        return hmac.digest(self._key, message, "sha256")[:_MAC_BYTES]

    def seal(self, purpose: str, owner: str, payload: Any, context: str = "") -> str:
        body = orjson.dumps(payload)
        return f"{_b64encode(body)}.{_b64encode(self._mac(purpose, owner, context, body))}"

    def open(self, purpose: str, owner: str, token: str, context: str = "") -> Any:
        if len(token) > MAX_OPAQUE_TOKEN_LENGTH:
            raise InvalidOpaqueTokenError
        encoded_body, dot, encoded_mac = token.partition(".")
        if not dot:
            raise InvalidOpaqueTokenError
        try:
            body = _b64decode(encoded_body)
            mac = _b64decode(encoded_mac)
        except (binascii.Error, ValueError):
            raise InvalidOpaqueTokenError from None
        # Base64 has several spellings of the same bytes (the unused bits of the last
        # character, characters it skips): only the one this service writes is accepted,
        # so that any edit of a token is refused.
        if _b64encode(body) != encoded_body or _b64encode(mac) != encoded_mac:
            raise InvalidOpaqueTokenError
        if not hmac.compare_digest(mac, self._mac(purpose, owner, context, body)):
            raise InvalidOpaqueTokenError
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidOpaqueTokenError from None
