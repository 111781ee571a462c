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
from datetime import UTC, datetime
from typing import Any

import orjson

from todo_api.errors import InvalidParameterError
from todo_api.opaque_tokens import InvalidOpaqueTokenError, OpaqueTokens
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.schemas import PRIORITY_RANKS, TaskSort

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


def page_fingerprint(filters: TaskFilters, sort: TaskSort) -> str:
    query: dict[str, Any] = {
        "sort": sort,
        "completed": filters.completed,
        "q": filters.query,
        "priority": sorted(filters.priorities),
        "tag": sorted(filters.tags),
        "due_before": _instant(filters.due_before),
        "due_after": _instant(filters.due_after),
    }
    if filters.list_id is not None:
        # Only when given, so the cursors of version 2 clients stay valid across the upgrade.
        query["list_id"] = str(filters.list_id)
    if filters.parent_id is not None:
        query["parent_id"] = str(filters.parent_id)
    if filters.top_level is not None:
        query["top_level"] = filters.top_level
    return query_fingerprint(query)


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def sort_value_of(key: str, cursor: Cursor) -> Any:
    """The cursor's sort value as the column's Python type; 422 if it cannot be one."""
    value = cursor.sort_value
    try:
        if key in ("created_at", "updated_at", "due_at") and value is not None:
            moment = datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                raise ValueError
            return moment
    except ValueError:
        raise invalid_cursor() from None
    valid = {
        "title": isinstance(value, str),
        "priority": value in PRIORITY_RANKS,
        "due_at": value is None,
        "position": isinstance(value, str),
    }.get(key, False)
    if not valid:
        raise invalid_cursor()
    return value
