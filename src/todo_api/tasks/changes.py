"""Incremental sync: `GET /tasks/changes`, and the tombstones that deletions leave.

Why a token never misses a change
---------------------------------
Every task write (create, PUT, PATCH, toggle, DELETE) takes the next number of its owner's
change counter (`change_counters`) in the write's own statement, and stores it: as the
task's `version`, or for a DELETE as the `seq` of the tombstone written by the same statement.
The counter row stays locked until the write commits, so the next write of the same user
waits for that commit before it can take a number. Hence, per user, sequence numbers commit
in increasing order: when a transaction with number n is visible, every number below n is
visible too (or was never used by a write that changed something). PostgreSQL makes a
transaction visible before it releases its locks, so this holds for any snapshot; SQLite runs
one writer at a time, which gives the same order.

The read below is ONE statement, so it sees one snapshot: the changed tasks (`version` after
the token), the tombstones (`seq` after it) and the counter's committed value. Ordered by
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
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from sqlalchemy import (
    BindParameter,
    Executable,
    bindparam,
    false,
    insert,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from typing_extensions import TypedDict

from todo_api.database import UTCDateTime, execute
from todo_api.errors import GoneError
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.sync_tokens import SyncPosition

DEFAULT_CHANGES_LIMIT = 500
MAX_CHANGES_LIMIT = 1000
# Sorts after every task id: a position (n, LAST_ID) means "all of n delivered".
LAST_ID = uuid.UUID(int=(1 << 128) - 1)


class ChangesRows(TypedDict):
    """A page of changes as plain data; each task a dict of `TaskRead`'s fields."""

    tasks: list[dict[str, Any]]
    deleted: list[uuid.UUID]
    has_more: bool


class ChangesResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


@cache
def changes_statement(task_columns: tuple[Any, ...], with_deletions: bool) -> Executable:
    """The changes after (:since, :after_id), at most :limit + 1, with the counter's value.

    `task_columns` are the service's columns of a task response, `id` first.
    """
    owner: BindParameter[str] = bindparam("owner")
    position = tuple_(bindparam("since"), bindparam("after_id", type_=tasks.c.id.type))
    changed = select(tasks.c.version.label("seq"), false().label("deleted"), *task_columns).where(
        tasks.c.user_id == owner, tuple_(tasks.c.version, tasks.c.id) > position
    )
    branches: list[Any] = [changed]
    if with_deletions:
        # Columns a tombstone does not have are NULL; the union takes the tasks' types.
        blanks = [null().label(column.key) for column in task_columns[1:]]
        removed = select(
            tombstones.c.seq, true().label("deleted"), tombstones.c.task_id.label("id"), *blanks
        ).where(
            tombstones.c.user_id == owner, tuple_(tombstones.c.seq, tombstones.c.task_id) > position
        )
        branches.append(removed)
    every = (
        union_all(*branches).subquery("changes") if with_deletions else changed.subquery("changes")
    )
    page = (
        select(every)
        .order_by(every.c.seq, every.c.id)
        .limit(bindparam("limit_plus_one"))
        .subquery("page")
    )
    high_water = (
        select(change_counters.c.last_seq).where(change_counters.c.user_id == owner)
    ).scalar_subquery()
    counter = select(high_water.label("high_water")).subquery("counter")
    # Outer-joined to a one-row counter, so an empty page still reads the counter, in the
    # same snapshot as the page.
    return (
        select(counter.c.high_water, page)
        .select_from(counter.outerjoin(page, true()))
        .order_by(page.c.seq, page.c.id)
    )


async def read_changes(
    connection: AsyncConnection,
    owner: str,
    task_columns: tuple[Any, ...],
    position: SyncPosition | None,
    limit: int,
    now: datetime,
) -> tuple[ChangesRows, SyncPosition]:
    """One page of changes after `position` (None: every current task), and where the next
    call starts."""
    statement = changes_statement(task_columns, with_deletions=position is not None)
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
    task_fields = [column.key for column in task_columns]
    changed: list[dict[str, Any]] = []
    deleted: list[uuid.UUID] = []
    for row in page:
        if row.deleted:
            deleted.append(row.id)
        else:
            # Columns: high_water, seq, deleted, then the task's own.
            changed.append(dict(zip(task_fields, row[3:], strict=True)))
    if has_more:
        last = page[-1]
        following = SyncPosition(last.seq, since_time, last.id)
    else:
        reached = max(since, high_water or 0, page[-1].seq if page else 0)
        following = SyncPosition(reached, now)
    return {"tasks": changed, "deleted": deleted, "has_more": has_more}, following


# SQLite cannot run DML in a CTE: there the tombstone is a statement of its own, in the
# DELETE's transaction, numbered by the counter bump that precedes the DELETE.
TOMBSTONE_SQLITE = insert(tombstones).values(
    user_id=bindparam("owner"),
    task_id=bindparam("task_id"),
    seq=bindparam("version"),
    deleted_at=bindparam("now", type_=UTCDateTime()),
)
