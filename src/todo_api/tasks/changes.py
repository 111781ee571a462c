"""Incremental sync: `GET /tasks/changes`, and the tombstones that deletions leave.

Why a token never misses a change
---------------------------------
Every task write (create, PUT, PATCH, toggle, DELETE) and every list write (create, rename,
DELETE) takes the next number of its owner's change counter (`change_counters`) in the
write's own statement or transaction, and stores it: as the task's or list's `version`, or
for a DELETE as the `seq` of the tombstone written with it (a list's deletion takes one
number for each of its tasks' tombstones and one for its own).
The counter row stays locked until the write commits, so the next write of the same user
waits for that commit before it can take a number. Hence, per user, sequence numbers commit
in increasing order: when a transaction with number n is visible, every number below n is
visible too (or was never used by a write that changed something). PostgreSQL makes a
transaction visible before it releases its locks, so this holds for any snapshot; SQLite runs
one writer at a time, which gives the same order.

The read below is ONE statement, so it sees one snapshot: the changed tasks and lists
(`version` after the token), the tombstones of both (`seq` after it) and the counter's
committed value. Ordered by
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
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import (
    BindParameter,
    Executable,
    SmallInteger,
    bindparam,
    exists,
    insert,
    literal_column,
    null,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from typing_extensions import TypedDict

from todo_api.database import UTCDateTime, execute
from todo_api.errors import GoneError
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.lists.schemas import ListRead
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import TaskRead
from todo_api.tasks.sync_tokens import SyncPosition

DEFAULT_CHANGES_LIMIT = 500
MAX_CHANGES_LIMIT = 1000
# Sorts after every task id: a position (n, LAST_ID) means "all of n delivered".
LAST_ID = uuid.UUID(int=(1 << 128) - 1)


class ChangesRows(TypedDict):
    """A page of changes as plain data; each task a dict of `TaskRead`'s fields, each list
    of `ListRead`'s; `default_list_missing` says the owner has no default list yet."""

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
        description=("Ids of the tasks deleted since the token, those of deleted lists included.")
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


# What a row of the changes statement is.
TASK, TASK_DELETED, LIST, LIST_DELETED = range(4)


class ChangesResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def _kind(number: int) -> Any:
    return literal_column(str(number), SmallInteger).label("kind")


def _blanks(columns: tuple[Any, ...], prefix: str = "") -> list[Any]:
    # NULLs typed as the columns they stand for, so the union's first branch gives every
    # column its type (SQLite's timestamps need theirs to come back in UTC).
    return [type_coerce(null(), column.type).label(prefix + column.key) for column in columns]


@cache
def changes_statement(
    task_columns: tuple[Any, ...], list_columns: tuple[Any, ...], with_deletions: bool
) -> Executable:
    """The changes after (:since, :after_id), at most :limit + 1, with the counter's value
    and whether the owner has a default list.

    Rows are (seq, kind, id, the task's other columns, the list's other columns, prefixed
    `list_`), each row filling the columns of its kind; `task_columns` and `list_columns`
    are the services' columns of a task and a list response, `id` first.
    """
    owner: BindParameter[str] = bindparam("owner")
    position = tuple_(bindparam("since"), bindparam("after_id", type_=tasks.c.id.type))
    task_rest, list_rest = task_columns[1:], list_columns[1:]
    list_labels = [column.label(f"list_{column.key}") for column in list_rest]
    changed = select(
        tasks.c.version.label("seq"),
        _kind(TASK),
        tasks.c.id,
        *task_rest,
        *_blanks(list_rest, "list_"),
    ).where(tasks.c.user_id == owner, tuple_(tasks.c.version, tasks.c.id) > position)
    changed_lists = select(
        task_lists.c.version, _kind(LIST), task_lists.c.id, *_blanks(task_rest), *list_labels
    ).where(task_lists.c.user_id == owner, tuple_(task_lists.c.version, task_lists.c.id) > position)
    branches: list[Any] = [changed, changed_lists]
    if with_deletions:
        for table, column, kind in (
            (tombstones, tombstones.c.task_id, TASK_DELETED),
            (list_tombstones, list_tombstones.c.list_id, LIST_DELETED),
        ):
            removed = select(
                table.c.seq, _kind(kind), column, *_blanks(task_rest), *_blanks(list_rest, "list_")
            ).where(table.c.user_id == owner, tuple_(table.c.seq, column) > position)
            branches.append(removed)
    every = union_all(*branches).subquery("changes")
    page = (
        select(every)
        .order_by(every.c.seq, every.c.id)
        .limit(bindparam("limit_plus_one"))
        .subquery("page")
    )
    high_water = (
        select(change_counters.c.last_seq).where(change_counters.c.user_id == owner)
    ).scalar_subquery()
    has_default = exists().where(task_lists.c.user_id == owner, task_lists.c.is_default)
    counter = select(
        high_water.label("high_water"), has_default.label("has_default_list")
    ).subquery("counter")
    # Outer-joined to a one-row counter, so an empty page still reads the counter, in the
    # same snapshot as the page.
    return (
        select(counter.c.high_water, counter.c.has_default_list, page)
        .select_from(counter.outerjoin(page, true()))
        .order_by(page.c.seq, page.c.id)
    )


@dataclass(frozen=True, slots=True)
class ChangesRead:
    rows: ChangesRows
    following: SyncPosition
    # False while the owner has no default list: the caller makes it and reads again.
    has_default_list: bool


async def read_changes(
    connection: AsyncConnection,
    owner: str,
    columns: tuple[tuple[Any, ...], tuple[Any, ...]],
    position: SyncPosition | None,
    limit: int,
    now: datetime,
) -> ChangesRead:
    """One page of changes after `position` (None: every current task and list), and where
    the next call starts. `columns`: those of a task response and of a list response."""
    task_columns, list_columns = columns
    statement = changes_statement(task_columns, list_columns, with_deletions=position is not None)
    if position is None:
        since, after_id, since_time = -1, LAST_ID, now
    else:
        since = position.seq
        after_id = LAST_ID if position.after_id is None else position.after_id
        since_time = position.since_time
    # A read: run again if its connection is lost.
    result = await execute(
        connection,
        statement,
        {
            "owner": owner,
            "since": since,
            "after_id": after_id,
            "limit_plus_one": limit + 1,
        },
        safe_to_repeat=True,
    )
    rows = result.all()
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
    task_fields = [column.key for column in task_columns[1:]]
    list_fields = [column.key for column in list_columns[1:]]
    # Columns: high_water, has_default_list, seq, kind, id, the task's, the list's.
    task_end = 5 + len(task_fields)
    changes: ChangesRows = {
        "tasks": [],
        "deleted": [],
        "lists": [],
        "deleted_lists": [],
        "has_more": has_more,
    }
    for row in page:
        if row.kind == TASK:
            task = dict(zip(task_fields, row[5:task_end], strict=True))
            changes["tasks"].append({"id": row.id, **task})
        elif row.kind == LIST:
            task_list = dict(zip(list_fields, row[task_end:], strict=True))
            changes["lists"].append({"id": row.id, **task_list})
        elif row.kind == TASK_DELETED:
            changes["deleted"].append(row.id)
        else:
            changes["deleted_lists"].append(row.id)
    if has_more:
        last = page[-1]
        following = SyncPosition(last.seq, since_time, last.id)
    else:
        reached = max(since, high_water or 0, page[-1].seq if page else 0)
        following = SyncPosition(reached, now)
    has_default = bool(rows[0].has_default_list) if rows else False
    return ChangesRead(changes, following, has_default)


# SQLite cannot run DML in a CTE: there the tombstone is a statement of its own, in the
# DELETE's transaction, numbered by the counter bump that precedes the DELETE.
TOMBSTONE_SQLITE = insert(tombstones).values(
    user_id=bindparam("owner"),
    task_id=bindparam("task_id"),
    seq=bindparam("version"),
    deleted_at=bindparam("now", type_=UTCDateTime()),
)
