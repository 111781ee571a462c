"""List cursors: where the next page of `GET /tasks` starts.

A cursor carries the last row's sort value and id (the keyset), sealed by `OpaqueTokens` for
the user and for the list's query (filters and sort, as `query_fingerprint`): a cursor sent
with other filters, another sort, by another user, or edited in any way is a 422. The page
size may differ from page to page: it never changes which rows come after the keyset.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from todo_api.errors import InvalidParameterError
from todo_api.opaque_tokens import InvalidOpaqueTokenError, OpaqueTokens

_PURPOSE = "list-cursor"
SortValue = str | int | None


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last row of the previous page: its sort value (JSON form) and its id."""

    sort_value: SortValue
    task_id: uuid.UUID


def query_fingerprint(filters: dict[str, Any]) -> str:
    """A short hash of a list query's filters and sort; `filters` holds JSON values whose
    lists are in a canonical order (sets given sorted)."""
    canonical = orjson.dumps(filters, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def encode_cursor(
    tokens: OpaqueTokens, owner: str, query: str, sort_value: SortValue, task_id: uuid.UUID
) -> str:
    return tokens.seal(_PURPOSE, owner, [sort_value, task_id.hex], context=query)


def invalid_cursor() -> InvalidParameterError:
    return InvalidParameterError(
        ["query", "cursor"],
        "not a cursor of this list: malformed, or made for other filters or another sort",
        "cursor_invalid",
    )


def decode_cursor(tokens: OpaqueTokens, owner: str, query: str, token: str) -> Cursor:
    try:
        payload = tokens.open(_PURPOSE, owner, token, context=query)
    except InvalidOpaqueTokenError:
        raise invalid_cursor() from None
    # Only our own signature got us here, so a surprise in the shape means a change of
    # format between versions: still the client's cursor to drop, not a server error.
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], str)):
        raise invalid_cursor()
    sort_value, task_hex = payload
    if sort_value is not None and type(sort_value) not in (str, int):
        raise invalid_cursor()
    try:
        task_id = uuid.UUID(hex=task_hex)
    except ValueError:
        raise invalid_cursor() from None
    return Cursor(sort_value, task_id)


def check_offset_with_cursor(offset: int) -> None:
    if offset != 0:
        raise InvalidParameterError(
            ["query", "offset"], "must be absent or 0 when a cursor is given", "offset_with_cursor"
        )
