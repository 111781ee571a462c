"""Every task write, in its PostgreSQL form and its SQLite form side by side.

Every write takes the next number of its owner's change sequence (`change_counters`) as the
task's version, from which the ETag comes (and, for a DELETE, as its tombstone's number for
incremental sync, changes.py).

PostgreSQL: the counter is bumped by a CTE of the write itself. One statement, so on the
autocommit connection each write costs one round trip, and concurrent writers cannot lose
each other's changes; the counter row stays locked until the statement commits, so each
user's numbers commit in order (what incremental sync relies on) and a task's version only
grows. Every write reads the number before it touches a task row, so all of them lock the
counter first and then the row: the same order, no deadlock.

SQLite cannot write in a CTE: there the bump is a statement of its own, then the write, then
(for a DELETE) the tombstone, in one transaction (local, so the extra statements cost no
round trip); SQLite's single writer gives the same order.

A new write is one `VersionedWrite` here, both forms next to each other (`versioned` makes
them for a write of any table with a `version` column: lists/statements.py); `run_write`
runs whichever the connection speaks. Statements are built once, with bound parameters: building
SQLAlchemy constructs per request costs more than running them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Insert,
    String,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, fetch_all, in_transaction
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks

# The ETag is computed by the database with the row, so that the list page, rendered
# straight from rows, carries it with no work per row in Python.
_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(tasks.c.version, String) + _QUOTE).label("etag")
# The columns of a task response, in every statement that returns tasks.
TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.list_id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.priority,
    tasks.c.due_at,
    tasks.c.tags,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.completed_at,
    _ETAG,
)
TASK_FIELDS = tuple(column.key for column in TASK_COLUMNS)

NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
OWNED: ColumnElement[bool] = and_(
    tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner")
)
# If-Match: the write applies only while the task is at one of the named versions. The
# condition is part of the statement that writes, so nothing can change in between; on
# PostgreSQL a row changed by a concurrent write is re-checked at its newest version.
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    OWNED, tasks.c.version.in_(bindparam("versions", expanding=True))
)


def _where(conditional: bool) -> ColumnElement[bool]:
    return _OWNED_AT_VERSION if conditional else OWNED


OWNER: BindParameter[str] = bindparam("owner")


# The owner's next number. PostgreSQL: a CTE of the write. SQLite: a statement run first,
# whose result the write takes as the bound parameter `version`.
_BUMP_VALUES = {"user_id": bindparam("owner"), "last_seq": 1}
_BUMP_SET = {"last_seq": change_counters.c.last_seq + 1}
_SEQUENCE = (
    postgresql.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
    .cte("seq")
)
_BUMP_SQLITE = (
    sqlite.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
)
_NEXT_POSTGRESQL = select(_SEQUENCE.c.last_seq).scalar_subquery()
_NEXT_SQLITE = bindparam("version", type_=tasks.c.version.type)


@dataclass(frozen=True, slots=True)
class VersionedWrite:
    """One task write in both dialects; each returns the written row, or nothing when the
    owner-scoped (and If-Match) WHERE matched no task."""

    # One statement: the counter's CTE, then the write.
    postgresql: Executable
    # Run after the counter's bump, in its transaction.
    sqlite: Executable
    # Run after `sqlite` when it wrote a row, in the same transaction (a DELETE's tombstone).
    sqlite_then: Executable | None = None


def versioned(write: Insert | Update) -> VersionedWrite:
    """A write whose row's `version` takes the owner's next number, in both forms."""
    return VersionedWrite(
        postgresql=write.values(version=_NEXT_POSTGRESQL).add_cte(_SEQUENCE),
        sqlite=write.values(version=_NEXT_SQLITE),
    )


@cache
def insert_task() -> VersionedWrite:
    return versioned(tasks.insert().returning(*TASK_COLUMNS))


@cache
def update_task(
    fields: frozenset[str], completed: bool | None, conditional: bool, moving_only: bool = False
) -> VersionedWrite:
    """PUT and PATCH: the `fields` from bound parameters `new_<field>`, and `completed`. A
    PATCH that only moves the task (`moving_only`) matches nothing when the task is already
    in that list: such a move changes nothing, not even the version."""
    values: dict[str, Any] = {field: bindparam(f"new_{field}") for field in sorted(fields)}
    values["updated_at"] = NOW
    # completed_at is the time of the latest change to completed: kept while a completed
    # task stays completed, set when it becomes completed, cleared otherwise.
    if completed is True:
        values["completed"] = True
        values["completed_at"] = func.coalesce(tasks.c.completed_at, NOW)
    elif completed is False:
        values["completed"] = False
        values["completed_at"] = None
    where = _where(conditional)
    if moving_only:
        where = and_(where, tasks.c.list_id != bindparam("new_list_id"))
    return versioned(tasks.update().where(where).values(values).returning(*TASK_COLUMNS))


@cache
def toggle_task(conditional: bool) -> VersionedWrite:
    # SET expressions read the row's old values, so concurrent toggles serialise on the row
    # lock and none is lost.
    toggle = (
        tasks.update()
        .where(_where(conditional))
        .values(
            completed=~tasks.c.completed,
            completed_at=case((tasks.c.completed, None), else_=NOW),
            updated_at=NOW,
        )
        .returning(*TASK_COLUMNS)
    )
    return versioned(toggle)


@cache
def delete_task(conditional: bool) -> VersionedWrite:
    """A DELETE that records a tombstone numbered from the owner's change counter (sync).

    PostgreSQL, one statement: WITH seq AS (bump the counter), gone AS (DELETE ... RETURNING)
    INSERT INTO task_tombstones SELECT ... FROM gone. The DELETE's WHERE reads the new number,
    so the counter row is locked before the task's row, the order every other write takes:
    a DELETE and an UPDATE of one task never wait for each other in opposite orders (a
    deadlock). SQLite: the bump, the DELETE, then the tombstone.
    """
    where = _where(conditional)
    # The tombstone keeps where the task was, for CalDAV's sync report (dav/).
    place = (tasks.c.list_id.label("gone_list_id"), tasks.c.dav_name.label("gone_dav_name"))
    gone = (
        tasks.delete()
        .where(where, _NEXT_POSTGRESQL.is_not(None))
        .returning(tasks.c.id, tasks.c.user_id, *place)
        .cte("gone")
    )
    record = insert(tombstones).from_select(
        ["user_id", "seq", "task_id", "deleted_at", "list_id", "dav_name"],
        select(
            gone.c.user_id,
            _NEXT_POSTGRESQL,
            gone.c.id,
            NOW,
            gone.c.gone_list_id,
            gone.c.gone_dav_name,
        ),
    )
    return VersionedWrite(
        postgresql=record.returning(tombstones.c.task_id).add_cte(_SEQUENCE).add_cte(gone),
        sqlite=tasks.delete().where(where).returning(tasks.c.id, *place),
        sqlite_then=insert(tombstones).values(
            user_id=bindparam("owner"),
            task_id=bindparam("task_id"),
            seq=_NEXT_SQLITE,
            deleted_at=NOW,
            list_id=bindparam("gone_list_id", type_=tasks.c.list_id.type),
            dav_name=bindparam("gone_dav_name"),
        ),
    )


# Numbers taken by a transaction that writes several rows (a list's deletion): the counter
# moves on by :by and its new value comes back; the row stays locked until the transaction
# ends, so no other write of the owner takes a number in between. Both forms.
_TAKE_VALUES = {"user_id": OWNER, "last_seq": bindparam("by")}
TAKE_NUMBERS = {
    name: dialect.insert(change_counters)
    .values(_TAKE_VALUES)
    .on_conflict_do_update(
        index_elements=[change_counters.c.user_id],
        set_={"last_seq": change_counters.c.last_seq + bindparam("by")},
    )
    .returning(change_counters.c.last_seq)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
# A list's tasks, deleted in its deletion's transaction, each given a tombstone after.
DELETE_TASKS_OF_LIST = (
    tasks.delete()
    .where(tasks.c.user_id == OWNER, tasks.c.list_id == bindparam("list_id"))
    .returning(tasks.c.id)
)
TASK_TOMBSTONE = insert(tombstones).values(
    user_id=OWNER, seq=bindparam("seq"), task_id=bindparam("task_id"), deleted_at=NOW
)


async def run_write(
    connection: AsyncConnection,
    write: VersionedWrite,
    params: dict[str, Any],
    *,
    safe_to_repeat: bool,
) -> Row[Any] | None:
    """Run `write` in the connection's dialect (`params` must name the `owner`); its row, if
    it matched one. On PostgreSQL the statement runs once more after a lost connection when
    the caller says it is `safe_to_repeat`; on SQLite, local and in a transaction, nothing
    is repeated."""
    if connection.dialect.name == "postgresql":
        rows = await fetch_all(connection, write.postgresql, params, safe_to_repeat=safe_to_repeat)
        return rows[0] if rows else None
    async with in_transaction(connection):
        params["version"] = await connection.scalar(_BUMP_SQLITE, {"owner": params["owner"]})
        row = (await connection.execute(write.sqlite, params)).first()
        if row is not None and write.sqlite_then is not None:
            # The written row's columns too (a tombstone keeps the deleted task's place).
            await connection.execute(write.sqlite_then, {**params, **row._mapping})
        return row
