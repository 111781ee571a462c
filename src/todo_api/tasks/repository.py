"""`TaskRepository`: one user's tasks over one connection, every statement scoped by owner.

Each operation is one SQL statement on PostgreSQL, so concurrent writers cannot lose each
other's changes and, on the autocommit connection of `Database.connect()`, each costs one
round trip. A second query runs only after a miss, to tell "someone else's task" (403) from
"no task" (404) from "not the version If-Match names" (412). Statements are built once, with
bound parameters: building SQLAlchemy constructs per request costs more than running them.

Every write also takes the next number of its owner's change sequence (`change_counters`)
as the task's version, from which the ETag comes. On PostgreSQL the counter is bumped by a
CTE of the write itself: still one statement, and the counter row stays locked until the
statement commits, so each user's numbers commit in order (what incremental sync relies
on) and a task's version only grows. Every write reads the number before it touches a task
row, so all of them lock the counter first and then the row: the same order, no deadlock.
SQLite cannot write in a CTE: there the bump is a statement of its own, in one transaction
with the write (local, so the extra statement costs no round trip); SQLite's single writer
gives the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    Executable,
    Insert,
    Select,
    String,
    TextClause,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, in_transaction, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError
from todo_api.tasks.models import TagList
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import (
    Priority,
    TagCount,
    TaskCreate,
    TaskPageRows,
    TaskRead,
    TaskReplace,
    TaskSort,
)

# The ETag is computed by the database with the row, so that the list page, rendered
# straight from rows, carries it with no work per row in Python.
_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(tasks.c.version, String) + _QUOTE).label("etag")
_TASK_COLUMNS = (
    tasks.c.id,
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
_TASK_FIELDS = tuple(column.key for column in _TASK_COLUMNS)

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
    "due_at": tasks.c.due_at,
    "priority": tasks.c.priority,
}

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNED: ColumnElement[bool] = and_(
    tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner")
)
# If-Match: the write applies only while the task is at one of the named versions. The
# condition is part of the statement that writes, so nothing can change in between; on
# PostgreSQL a row changed by a concurrent write is re-checked at its newest version.
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    _OWNED, tasks.c.version.in_(bindparam("versions", expanding=True))
)
_GET = select(*_TASK_COLUMNS).where(_OWNED)
_OWNER_OF = select(tasks.c.user_id).where(tasks.c.id == bindparam("task_id"))

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


def _next_version(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return select(_SEQUENCE.c.last_seq).scalar_subquery()
    return bindparam("version", type_=tasks.c.version.type)


def _versioned(dialect: str, statement: Insert | Update | Delete) -> Executable:
    """The write with the counter's CTE on PostgreSQL; as it is on SQLite."""
    if dialect == "postgresql":
        return statement.add_cte(_SEQUENCE)
    return statement


def _where(conditional: bool) -> ColumnElement[bool]:
    return _OWNED_AT_VERSION if conditional else _OWNED


@cache
def _insert_statement(dialect: str) -> Executable:
    insert = tasks.insert().values(version=_next_version(dialect)).returning(*_TASK_COLUMNS)
    return _versioned(dialect, insert)


@cache
def _toggle_statement(dialect: str, conditional: bool) -> Executable:
    # SET expressions read the row's old values, so concurrent toggles serialise on the row
    # lock and none is lost.
    toggle = (
        tasks.update()
        .where(_where(conditional))
        .values(
            completed=~tasks.c.completed,
            completed_at=case((tasks.c.completed, None), else_=_NOW),
            updated_at=_NOW,
            version=_next_version(dialect),
        )
        .returning(*_TASK_COLUMNS)
    )
    return _versioned(dialect, toggle)


@cache
def _delete_statement(dialect: str, conditional: bool) -> Executable:
    # A delete takes a change number too: sync's tombstones are ordered by it.
    delete = tasks.delete().where(_where(conditional))
    if dialect == "postgresql":
        # PostgreSQL runs a CTE that the statement does not read only after the statement,
        # when the row is already locked: a concurrent PATCH, which holds the counter and
        # waits for the row, would deadlock with it. Reading the number in the WHERE takes
        # the counter first, before any row, as every other write does.
        delete = delete.where(_next_version(dialect).is_not(None))
    return _versioned(dialect, delete.returning(tasks.c.id))


@cache
def _update_statement(
    dialect: str, fields: frozenset[str], completed: bool | None, conditional: bool
) -> Executable:
    values: dict[str, Any] = {field: bindparam(f"new_{field}") for field in sorted(fields)}
    values["updated_at"] = _NOW
    values["version"] = _next_version(dialect)
    # completed_at is the time of the latest change to completed: kept while a completed
    # task stays completed, set when it becomes completed, cleared otherwise.
    if completed is True:
        values["completed"] = True
        values["completed_at"] = func.coalesce(tasks.c.completed_at, _NOW)
    elif completed is False:
        values["completed"] = False
        values["completed_at"] = None
    update = tasks.update().where(_where(conditional)).values(values).returning(*_TASK_COLUMNS)
    return _versioned(dialect, update)


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    # A page's rows carry one more column (the total) after the task's own.
    return dict(zip(_TASK_FIELDS, row, strict=False))


def _to_read(row: Sequence[Any]) -> TaskRead:
    return TaskRead.model_validate(_fields(row))


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The filters of GET /tasks; None (or empty) means "not filtered by this"."""

    completed: bool | None = None
    query: str | None = None
    priorities: tuple[Priority, ...] = ()
    tags: tuple[str, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None

    def shape(self) -> tuple[bool, ...]:
        """Which filters are in use: the statement differs only by these."""
        return (
            self.completed is not None,
            bool(self.query),
            bool(self.priorities),
            bool(self.tags),
            self.due_before is not None,
            self.due_after is not None,
        )

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.completed is not None:
            params["completed"] = self.completed
        if self.query:
            params["pattern"] = _like_pattern(self.query)
        if self.priorities:
            params["priorities"] = list(self.priorities)
        if self.tags:
            params["tags"] = list(self.tags)
        if self.due_before is not None:
            params["due_before"] = self.due_before
        if self.due_after is not None:
            params["due_after"] = self.due_after
        return params


def _carries_every_tag(dialect: str) -> ColumnElement[bool]:
    wanted = bindparam("tags", type_=TagList)
    if dialect == "postgresql":
        # `tags @> :tags` is what the GIN index on tags serves.
        return tasks.c.tags.contains(wanted)
    # SQLite: none of the wanted tags is missing from the task's JSON array.
    wanted_tags = func.json_each(wanted).table_valued("value").alias("wanted")
    carried = func.json_each(tasks.c.tags).table_valued("value").alias("carried")
    missing = select(wanted_tags.c.value).where(
        wanted_tags.c.value.not_in(select(carried.c.value).scalar_subquery())
    )
    return ~missing.exists()


@cache
def _list_statements(
    dialect: str, shape: tuple[bool, ...], sort: TaskSort
) -> tuple[Select[Any], Select[Any]]:
    """The page query (with its total as a window count) and the plain count query."""
    by_completion, searching, by_priority, by_tags, due_before, due_after = shape
    conditions: list[ColumnElement[bool]] = [tasks.c.user_id == bindparam("owner")]
    if by_completion:
        conditions.append(tasks.c.completed == bindparam("completed"))
    if searching:
        pattern: BindParameter[str] = bindparam("pattern")
        conditions.append(
            tasks.c.title.ilike(pattern, escape="\\")
            | tasks.c.description.ilike(pattern, escape="\\")
        )
    if by_priority:
        conditions.append(tasks.c.priority.in_(bindparam("priorities", expanding=True)))
    if by_tags:
        conditions.append(_carries_every_tag(dialect))
    # A task without a due date matches neither bound: NULL compares to nothing.
    if due_before:
        conditions.append(tasks.c.due_at < bindparam("due_before"))
    if due_after:
        conditions.append(tasks.c.due_at >= bindparam("due_after"))
    key = _SORT_KEYS[sort.lstrip("-")]
    descending = sort.startswith("-")
    ordered = key.desc() if descending else key.asc()
    if key is tasks.c.due_at:
        # Tasks without a due date come last in both directions.
        ordered = ordered.nulls_last()
    # Ties are broken by id in the sort's direction, so pages are stable and a keyset
    # cursor can continue from (key, id).
    order = (ordered, tasks.c.id.desc() if descending else tasks.c.id.asc())
    # The total rides along with the page as a window count: one round trip, not two.
    page = (
        select(*_TASK_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    count = select(func.count()).select_from(tasks).where(*conditions)
    return page, count


# The caller's tags with counts, in code point order on both databases: SQLite compares
# text byte by byte (UTF-8, so by code point), and PostgreSQL does the same under "C".
_TAG_COUNTS: dict[str, TextClause] = {
    "postgresql": text(
        "SELECT name, count(*) AS count FROM tasks, unnest(tasks.tags) AS name "
        'WHERE tasks.user_id = :owner GROUP BY name ORDER BY name COLLATE "C"'
    ),
    "sqlite": text(
        "SELECT tag.value AS name, count(*) AS count FROM tasks, json_each(tasks.tags) AS tag "
        "WHERE tasks.user_id = :owner GROUP BY tag.value ORDER BY tag.value"
    ),
}


class TaskRepository:
    """The tasks of `owner`, reached through `connection` (see todo_api.database)."""

    __slots__ = ("connection", "dialect", "owner")

    def __init__(self, connection: AsyncConnection, owner: str) -> None:
        self.connection = connection
        self.owner = owner
        self.dialect = connection.dialect.name

    async def create(self, data: TaskCreate) -> TaskRead:
        now = utc_now()
        values = {
            "id": uuid.uuid4(),
            "user_id": self.owner,
            "title": data.title,
            "description": data.description,
            "completed": data.completed,
            "priority": data.priority,
            "due_at": data.due_at,
            "tags": data.tags,
            "created_at": now,
            "updated_at": now,
            "completed_at": now if data.completed else None,
        }
        row = await self._write(_insert_statement(self.dialect), values)
        assert row is not None, "an insert returns its row"
        return _to_read(row)

    async def get(self, task_id: uuid.UUID) -> TaskRead:
        params = {"owner": self.owner, "task_id": task_id}
        row = (await self.connection.execute(_GET, params)).first()
        if row is None:
            raise await self._missing(task_id)
        return _to_read(row)

    async def page(
        self, *, limit: int, offset: int, filters: TaskFilters, sort: TaskSort
    ) -> TaskPageRows:
        page, count = _list_statements(self.dialect, filters.shape(), sort)
        params: dict[str, Any] = {
            "owner": self.owner,
            "limit": limit,
            "offset": offset,
            **filters.params(),
        }
        rows = (await self.connection.execute(page, params)).all()
        if rows:
            total = rows[0].total
        elif offset == 0:
            total = 0
        else:
            total = await self.connection.scalar(count, params) or 0
        items = [_fields(row) for row in rows]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    async def tag_counts(self) -> list[TagCount]:
        result = await self.connection.execute(_TAG_COUNTS[self.dialect], {"owner": self.owner})
        return [TagCount(name=name, count=count) for name, count in result.all()]

    async def replace(
        self, task_id: uuid.UUID, data: TaskReplace, if_match: IfMatch | None = None
    ) -> TaskRead:
        # Every field, so the omitted ones return to their defaults.
        return await self.patch(task_id, data.model_dump(), if_match)

    async def patch(
        self, task_id: uuid.UUID, changes: dict[str, Any], if_match: IfMatch | None = None
    ) -> TaskRead:
        changes = dict(changes)
        completed = changes.pop("completed", None)
        statement = _update_statement(
            self.dialect, frozenset(changes), completed, _names_versions(if_match)
        )
        params = {f"new_{field}": value for field, value in changes.items()}
        params["now"] = utc_now()
        return _to_read(await self._write_owned(statement, task_id, params, if_match))

    async def toggle(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> TaskRead:
        statement = _toggle_statement(self.dialect, _names_versions(if_match))
        row = await self._write_owned(statement, task_id, {"now": utc_now()}, if_match)
        return _to_read(row)

    async def delete(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
        statement = _delete_statement(self.dialect, _names_versions(if_match))
        await self._write_owned(statement, task_id, {}, if_match)

    async def _write_owned(
        self,
        statement: Executable,
        task_id: uuid.UUID,
        params: dict[str, Any],
        if_match: IfMatch | None,
    ) -> Row[Any]:
        params["task_id"] = task_id
        if if_match is not None and if_match.versions is not None:
            params["versions"] = list(if_match.versions)
        row = await self._write(statement, params)
        if row is None:
            raise await self._missing(task_id, if_match)
        return row

    async def _write(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """Run a versioned write (see the module docstring) and return its row, if any."""
        params["owner"] = self.owner
        if self.dialect == "postgresql":
            return (await self.connection.execute(statement, params)).first()
        async with in_transaction(self.connection):
            params["version"] = await self.connection.scalar(_BUMP_SQLITE, {"owner": self.owner})
            return (await self.connection.execute(statement, params)).first()

    async def _missing(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> Exception:
        """The one place that decides 404, 403 or 412 once an owner-scoped statement found
        nothing: ownership first, then the precondition."""
        owner = await self.connection.scalar(_OWNER_OF, {"task_id": task_id})
        if owner is None:
            return NotFoundError("No task has this id.")
        if owner != self.owner:
            return ForbiddenError("This task belongs to another user.")
        if if_match is not None:
            return PreconditionFailedError()
        # The caller's own task was deleted between the write and this look-up.
        return NotFoundError("No task has this id.")


def _names_versions(if_match: IfMatch | None) -> bool:
    # `If-Match: *` asks only that the task exist, which the owner-scoped WHERE already does.
    return if_match is not None and if_match.versions is not None
