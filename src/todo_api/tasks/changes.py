"""Incremental sync: `GET /tasks/changes`, and the tombstones that deletions leave.

The statements are `statements.py`'s writes and `queries.changes_statement`; this module
holds the rules that turn the statement's rows into a page and the next position.

Why a token never misses a change
---------------------------------
Every task write (create, PUT, PATCH, toggle, DELETE) and every list write (create, rename,
DELETE) takes the next number of its owner's change counter (`change_counters`) in the
write's own statement or transaction, and stores it: as the task's or list's `version`, or
for a DELETE as the `seq` of the tombstone written with it (a list's deletion takes one
number for each of its tasks' tombstones, then one for its own).
The counter row stays locked until the write commits, so the next write of the same user
waits for that commit before it can take a number. Hence, per user, sequence numbers commit
in increasing order: when a transaction with number n is visible, every number below n is
visible too (or was never used by a write that changed something). PostgreSQL makes a
transaction visible before it releases its locks, so this holds for any snapshot; SQLite runs
one writer at a time, which gives the same order.

The read (`queries.changes_statement`) is ONE statement, so it sees one snapshot: the
changed tasks and lists (`version` after the token), the tombstones of both (`seq` after
it) and the counter's committed value. Ordered by
number and cut at `limit`, the page always ends at a number that is complete in that
snapshot: everything at or below it is in this page or an earlier one; everything above it
is delivered next time. A change that commits while the client syncs has a higher number
than anything this snapshot saw, so it comes with a later call. Clock time plays no part:
a write whose statement started earlier but committed later still has the higher number.

Tokens
------
The token (`sync_tokens.py`) carries the position reached, (number, task id), and a lower
bound for the time of the deletions still to come. When a page ends the catch-up, the
position is the counter's value in the snapshot (it skips the numbers of writes that
matched nothing) and the time is now; a page with more to come inherits the incoming time,
because the deletions after it were already there. Tombstones live SYNC_TOMBSTONE_DAYS (plus a
day of margin, `pruning.py`), so a token younger than that never misses one; an older token
is 410.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from todo_api.errors import GoneError
from todo_api.lists.schemas import ListRead
from todo_api.lists.statements import LIST_FIELDS
from todo_api.tasks.queries import LIST, TASK, TASK_DELETED
from todo_api.tasks.repository import AnyRow
from todo_api.tasks.schemas import TaskRead
from todo_api.tasks.statements import TASK_FIELDS
from todo_api.tasks.sync_tokens import SyncPosition

DEFAULT_CHANGES_LIMIT = 500
MAX_CHANGES_LIMIT = 1000
# Sorts after every task id: a position (n, LAST_ID) means "all of n delivered".
LAST_ID = uuid.UUID(int=(1 << 128) - 1)


class ChangesRows(TypedDict):
    """A page of changes as plain data; each task a dict of `TaskRead`'s fields, each list
    of `ListRead`'s."""

    tasks: list[dict[str, Any]]
    deleted: list[uuid.UUID]
    lists: list[dict[str, Any]]
    deleted_lists: list[uuid.UUID]
    has_more: bool


class TaskChanges(BaseModel):
    tasks: list[TaskRead] = Field(
        description="The current state of every task created or changed since the token."
    )
    deleted: list[uuid.UUID] = Field(
        description="Ids of the tasks deleted since the token, those of deleted lists included."
    )
    lists: list[ListRead] = Field(
        description="The current state of every list created or changed since the token."
    )
    deleted_lists: list[uuid.UUID] = Field(description="Ids of the lists deleted since the token.")
    next_since: str = Field(
        description="The token for the next call: pass it as `since`. Opaque to clients."
    )
    has_more: bool = Field(
        description="More changes are waiting: call again with `since=next_since` at once."
    )


class ChangesResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def changes_start(position: SyncPosition | None, now: datetime) -> tuple[int, uuid.UUID, datetime]:
    """Where the read starts, (number, task id), and the time the next token inherits when
    more changes follow; None: from the beginning (every current task)."""
    if position is None:
        return -1, LAST_ID, now
    after_id = LAST_ID if position.after_id is None else position.after_id
    return position.seq, after_id, position.since_time


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the changes statement: a task or list (its fields), or a deletion (its id),
    at its number in the owner's change sequence."""

    kind: int  # queries.TASK, TASK_DELETED, LIST or LIST_DELETED
    seq: int
    id: uuid.UUID
    fields: dict[str, Any] | None


def ordered_changes(
    rows: Sequence[AnyRow],
    position: SyncPosition | None,
    limit: int,
    now: datetime,
) -> tuple[list[Change], SyncPosition, bool]:
    """The changes among `rows` (read with `limit + 1`, from `changes_start(position, now)`)
    in the order they committed, where the next read starts, and whether more are waiting."""
    since, _after_id, since_time = changes_start(position, now)
    high_water = rows[0].high_water if rows else None
    if position is not None and position.seq > (high_water or 0):
        # The counter only grows, except when the user's data is erased (DELETE /auth/me):
        # a token from before that would skip the new history's first numbers.
        raise GoneError(
            "This sync token belongs to a history that no longer exists; sync again from "
            "the start, without `since`."
        )
    found = [row for row in rows if row.seq is not None]
    has_more = len(found) > limit
    page = found[:limit]
    # Columns: high_water, has_default_list, seq, kind, id, the rest of a task's, the rest
    # of a list's (queries.changes_statement).
    tasks_end = 4 + len(TASK_FIELDS)
    changes = []
    for row in page:
        fields = None
        if row.kind == TASK:
            fields = dict(zip(TASK_FIELDS, row[4:tasks_end], strict=True))
        elif row.kind == LIST:
            fields = dict(zip(LIST_FIELDS, (row.id, *row[tasks_end:]), strict=True))
        changes.append(Change(row.kind, row.seq, row.id, fields))
    if has_more:
        last = page[-1]
        following = SyncPosition(last.seq, since_time, last.id)
    else:
        reached = max(since, high_water or 0, page[-1].seq if page else 0)
        following = SyncPosition(reached, now)
    return changes, following, has_more


def changes_page(
    rows: Sequence[AnyRow],
    position: SyncPosition | None,
    limit: int,
    now: datetime,
) -> tuple[ChangesRows, SyncPosition]:
    """The page of `rows` (read with `limit + 1`, from `changes_start(position, now)`), and
    where the next call starts."""
    changes, following, has_more = ordered_changes(rows, position, limit, now)
    page: ChangesRows = {
        "tasks": [],
        "deleted": [],
        "lists": [],
        "deleted_lists": [],
        "has_more": has_more,
    }
    for change in changes:
        if change.kind == TASK:
            page["tasks"].append(change.fields or {})
        elif change.kind == LIST:
            page["lists"].append(change.fields or {})
        elif change.kind == TASK_DELETED:
            page["deleted"].append(change.id)
        else:
            page["deleted_lists"].append(change.id)
    return page, following


def has_default_list(rows: Sequence[AnyRow]) -> bool:
    """Whether the changes statement found the owner's default list (in its snapshot)."""
    return bool(rows and rows[0].has_default_list)
