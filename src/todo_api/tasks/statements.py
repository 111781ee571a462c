"""Every task write, in its PostgreSQL form and its SQLite form side by side.

Every write takes the next number of its owner's change sequence (`change_counters`) as the
task's version, from which the ETag comes (and, for a DELETE, as its tombstone's number for
incremental sync, changes.py; a task's deletion, which takes its subtasks along, is in
subtrees.py with the other statements over a subtree).

PostgreSQL: the counter is bumped by a CTE of the write itself. One statement, so on the
autocommit connection each write costs one round trip, and concurrent writers cannot lose
each other's changes; the counter row stays locked until the statement commits, so each
user's numbers commit in order (what incremental sync relies on) and a task's version only
grows. Every write reads the number before it touches a task row, so all of them lock the
counter first and then the row: the same order, no deadlock.

SQLite cannot write in a CTE: there the bump is a statement of its own, then the write, then
(for a move to another list) the subtasks', in one transaction (local, so the extra
statements cost no round trip); SQLite's single writer gives the same order.

A new write is one `VersionedWrite` here, both forms next to each other (`versioned` makes
them for a write of any table with a `version` column: lists/statements.py); `run_write`
runs whichever the connection speaks. Statements are built once, with bound parameters: building
SQLAlchemy constructs per request costs more than running them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
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
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, fetch_all, in_transaction
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.positions import appended_position
from todo_api.tasks.recurrence_sql import RECURRENCE_OBJECT

# The ETag is computed by the database with the row, so that the list page, rendered
# straight from rows, carries it with no work per row in Python.
_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(tasks.c.version, String) + _QUOTE).label("etag")


# The columns of a task response, in every statement that returns tasks.
TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.list_id,
    tasks.c.parent_id,
    tasks.c.position,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.priority,
    tasks.c.due_at,
    tasks.c.tags,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.completed_at,
    RECURRENCE_OBJECT,
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
    # Run after `sqlite` when it wrote a row, in the same transaction (a moved task's
    # subtasks following it).
    sqlite_then: Executable | None = None


def versioned(
    write: Insert | Update, *, numbered: Callable[[Any], dict[str, Any]] | None = None
) -> VersionedWrite:
    """A write whose row's `version` takes the owner's next number, in both forms; with
    `numbered`, also the values it derives from that number (a task's position)."""

    def values(number: Any) -> dict[str, Any]:
        return {"version": number, **(numbered(number) if numbered else {})}

    return VersionedWrite(
        postgresql=write.values(values(_NEXT_POSTGRESQL)).add_cte(_SEQUENCE),
        sqlite=write.values(values(_NEXT_SQLITE)),
    )


def committed_meanwhile(taken: Any, count: Any) -> ColumnElement[bool]:
    """Whether another write of the owner committed between the start of this statement
    (its snapshot, which every subquery reads) and its taking `count` numbers, the last of
    them `taken`: then rows that write made are invisible to this statement's subqueries
    (a subtask its walk down a tree missed)."""
    seen = select(change_counters.c.last_seq).where(change_counters.c.user_id == OWNER)
    meanwhile: ColumnElement[bool] = taken != func.coalesce(seen.scalar_subquery(), 0) + count
    return meanwhile


def subtree(root: ColumnElement[bool], name: str = "subtree") -> CTE:
    """The ids of the owner's task matching `root` and of all its descendants, with their
    depth below it (the root is 1)."""
    top = select(tasks.c.id, literal(1).label("depth")).where(root).cte(name, recursive=True)
    child = tasks.alias(f"{name}_child")
    return top.union_all(
        select(child.c.id, top.c.depth + 1).where(
            child.c.parent_id == top.c.id, child.c.user_id == OWNER
        )
    )


def _last_among_siblings(number: Any) -> dict[str, Any]:
    return {"position": appended_position(number)}


def _relisted(number: Any) -> dict[str, Any]:
    # SET reads the old row: a task that changes list goes top-level, last there.
    stays = tasks.c.list_id == bindparam("new_list_id")
    return {
        "parent_id": case((stays, tasks.c.parent_id), else_=None),
        "position": case((stays, tasks.c.position), else_=appended_position(number)),
    }


@cache
def insert_task() -> VersionedWrite:
    # A new task goes after its siblings, with no look-up of theirs (positions.py).
    return versioned(tasks.insert().returning(*TASK_COLUMNS), numbered=_last_among_siblings)


# A write that a recurring task must not take in one statement, since its result needs the
# rule computed in Python (tasks/recurring.py): those match only tasks without recurrence,
# and the service takes the miss from there. A toggle needs it only to complete.
NOT_RECURRING: ColumnElement[bool] = tasks.c.recurrence_rule.is_(None)
_TOGGLE_NEEDS_NO_RULE = or_(NOT_RECURRING, tasks.c.completed)


@cache
def update_task(
    fields: frozenset[str],
    completed: bool | None,
    conditional: bool,
    moving_only: bool = False,
    only_if_not_recurring: bool = False,
) -> VersionedWrite:
    """PUT and PATCH: the `fields` from bound parameters `new_<field>`, and `completed`. A
    PATCH that only moves the task (`moving_only`) matches nothing when the task is already
    in that list: such a move changes nothing, not even the version. A task that changes
    list goes top-level, last there, and its subtasks follow it, numbered as it is: in the
    same statement on PostgreSQL, right after it on SQLite."""
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
    if only_if_not_recurring:
        where = and_(where, NOT_RECURRING)
    update = tasks.update().where(where).values(values)
    if "list_id" not in fields:
        return versioned(update.returning(*TASK_COLUMNS))
    followers = _followers(conditional, _NEXT_POSTGRESQL).cte("followers")
    # A subtask made while this statement waited for the counter is not among the followers:
    # the row says so, and the repository moves it after (subtrees.relist_late_followers).
    late = committed_meanwhile(_NEXT_POSTGRESQL, 1).label("followers_late")
    return VersionedWrite(
        postgresql=update.values({**_relisted(_NEXT_POSTGRESQL), "version": _NEXT_POSTGRESQL})
        .returning(*TASK_COLUMNS, late)
        .add_cte(_SEQUENCE)
        .add_cte(followers),
        sqlite=update.values({**_relisted(_NEXT_SQLITE), "version": _NEXT_SQLITE}).returning(
            *TASK_COLUMNS
        ),
        sqlite_then=_followers(False, _NEXT_SQLITE),
    )


def _followers(conditional: bool, number: Any) -> Update:
    """The subtasks of a task that changes list, moved with it (those already in the new
    list are where they belong). On PostgreSQL a CTE of the task's own update, reading the
    tree as the statement started; on SQLite run right after that update."""
    below = subtree(_where(conditional), "followed")
    return (
        tasks.update()
        .where(
            tasks.c.id.in_(select(below.c.id).where(below.c.depth > 1)),
            tasks.c.user_id == OWNER,
            tasks.c.list_id != bindparam("new_list_id"),
        )
        .values(list_id=bindparam("new_list_id"), version=number, updated_at=NOW)
    )


@cache
def toggle_task(conditional: bool) -> VersionedWrite:
    # SET expressions read the row's old values, so concurrent toggles serialise on the row
    # lock and none is lost.
    toggle = (
        tasks.update()
        .where(_where(conditional), _TOGGLE_NEEDS_NO_RULE)
        .values(
            completed=~tasks.c.completed,
            completed_at=case((tasks.c.completed, None), else_=NOW),
            updated_at=NOW,
        )
        .returning(*TASK_COLUMNS)
    )
    return versioned(toggle)


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
            await connection.execute(write.sqlite_then, params)
        return row
