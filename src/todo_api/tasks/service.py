"""Owner-scoped task queries. Every statement is scoped by the owner; none commits.

Each operation is one SQL statement, so concurrent writers cannot lose each other's
changes; a second query runs only to tell "someone else's task" (403) from "no task" (404).
Statements are built once with bound parameters: building SQLAlchemy constructs per request
costs more than running them.

Operations are synchronous SQLAlchemy code: `UserTasks.run` runs one, with its checkout and
commit, in a single greenlet of SQLAlchemy's asyncio bridge.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    StatementLambdaElement,
    String,
    TextClause,
    and_,
    bindparam,
    case,
    cast,
    func,
    lambda_stmt,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from todo_api.database import UTCDateTime, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.state import Resources
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
_ETAG = (
    literal_column("'\"'", String) + cast(tasks.c.version, String) + literal_column("'\"'", String)
).label("etag")
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

_STATEMENT_NAMES: dict[str, Executable] = {}


def _named(name: str, statement: Executable) -> StatementLambdaElement:
    """`statement` under a name that alone identifies it to SQLAlchemy's statement cache.

    SQLAlchemy otherwise walks a statement on every execution to compute its cache key,
    about 20 us for these; a lambda statement tracked on a name skips that walk. Two
    different statements must never share a name, which this checks as they are built.
    """
    known = _STATEMENT_NAMES.setdefault(name, statement)
    if known is not statement:
        raise RuntimeError(f"two statements named {name!r}")
    return lambda_stmt(lambda: statement, track_closure_variables=False, track_on=[name])


_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNED: ColumnElement[bool] = and_(
    tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner")
)
# If-Match: the write applies only while the task is at one of the named versions, checked
# by the same statement that writes, so a concurrent write in between makes it match nothing.
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    _OWNED, tasks.c.version.in_(bindparam("versions", expanding=True))
)
_GET = _named("get", select(*_TASK_COLUMNS).where(_OWNED))
_OWNER_OF = _named("owner_of", select(tasks.c.user_id).where(tasks.c.id == bindparam("task_id")))

# Every write takes the next number of its owner's change sequence as the task's version.
# On PostgreSQL the counter is bumped by a CTE of the write itself: one statement, and the
# counter row stays locked until commit, so each user's numbers commit in order (what
# incremental sync relies on) and a task's version only grows. SQLite cannot run DML in a
# CTE: there the bump is a statement of its own in the write's transaction, and SQLite's
# single writer gives the same order.
_BUMP_VALUES = {"user_id": bindparam("owner"), "last_seq": 1}
_BUMP_SET = {"last_seq": change_counters.c.last_seq + 1}
_SEQUENCE = (
    postgresql.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
    .cte("seq")
)
_BUMP_SQLITE = _named(
    "bump/sqlite",
    sqlite.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq),
)


def _next_version(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return select(_SEQUENCE.c.last_seq).scalar_subquery()
    return bindparam("version", type_=tasks.c.version.type)


def _versioned(dialect: str, statement: Any) -> Any:
    return statement.add_cte(_SEQUENCE) if dialect == "postgresql" else statement


@dataclass(frozen=True, slots=True)
class _Writes:
    """The write statements of one database dialect."""

    insert: StatementLambdaElement
    toggle: StatementLambdaElement
    toggle_if_match: StatementLambdaElement
    delete: StatementLambdaElement
    delete_if_match: StatementLambdaElement


@cache
def _writes(dialect: str) -> _Writes:
    version = _next_version(dialect)
    insert = tasks.insert().values(version=version).returning(*_TASK_COLUMNS)
    toggles = [
        tasks.update()
        .where(where)
        .values(
            completed=~tasks.c.completed,
            # The SET expressions read the row's old values, so concurrent toggles
            # serialise on the row lock and none is lost.
            completed_at=case((tasks.c.completed, None), else_=_NOW),
            updated_at=_NOW,
            version=version,
        )
        .returning(*_TASK_COLUMNS)
        for where in (_OWNED, _OWNED_AT_VERSION)
    ]
    deletes = [
        tasks.delete().where(where).returning(tasks.c.id) for where in (_OWNED, _OWNED_AT_VERSION)
    ]
    return _Writes(
        insert=_named(f"insert/{dialect}", _versioned(dialect, insert)),
        toggle=_named(f"toggle/{dialect}", _versioned(dialect, toggles[0])),
        toggle_if_match=_named(f"toggle/if-match/{dialect}", _versioned(dialect, toggles[1])),
        delete=_named(f"delete/{dialect}", _versioned(dialect, deletes[0])),
        delete_if_match=_named(f"delete/if-match/{dialect}", _versioned(dialect, deletes[1])),
    )


P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class OwnedTasks:
    """One user's tasks, reached through the request's transaction."""

    owner: str
    connection: Connection


@dataclass(frozen=True, slots=True)
class UserTasks:
    """The authenticated user's tasks, for the routes: `run` performs one operation below
    in one transaction, committed when it returns."""

    owner: str
    resources: Resources

    async def run(
        self, operation: Callable[Concatenate[OwnedTasks, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        def in_transaction(connection: Connection) -> R:
            return operation(OwnedTasks(self.owner, connection), *args, **kwargs)

        return await self.resources.run_in_transaction(in_transaction)


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    # A page's rows carry one more column (the total) after the task's own.
    return dict(zip(_TASK_FIELDS, row, strict=False))


def _to_read(row: Sequence[Any]) -> TaskRead:
    # Rows come from our own typed columns: validating them again would only cost time.
    return TaskRead.model_construct(**_fields(row))


def _missing(
    connection: Connection, owner: str, task_id: uuid.UUID, if_match: IfMatch | None = None
) -> Exception:
    """The one place that decides 404, 403 or 412 once an owner-scoped statement found
    nothing: ownership first, the precondition after."""
    task_owner = connection.scalar(_OWNER_OF, {"task_id": task_id})
    if task_owner is None:
        return NotFoundError("No task has this id.")
    if task_owner != owner:
        return ForbiddenError("This task belongs to another user.")
    if if_match is not None:
        return PreconditionFailedError()
    # The owner's task went away between the write and this look-up.
    return NotFoundError("No task has this id.")


def _write_one(
    owned: OwnedTasks,
    statement: StatementLambdaElement,
    params: dict[str, Any],
    *,
    task_id: uuid.UUID | None = None,
    if_match: IfMatch | None = None,
) -> Row[Any]:
    """Run a versioned write and return its row, or raise 404/403/412 when it matched none."""
    connection = owned.connection
    params["owner"] = owned.owner
    if task_id is not None:
        params["task_id"] = task_id
    if if_match is not None and if_match.versions is not None:
        params["versions"] = list(if_match.versions)
    if connection.dialect.name != "postgresql":
        params["version"] = connection.scalar(_BUMP_SQLITE, {"owner": owned.owner})
    row = connection.execute(statement, params).first()
    if row is None:
        assert task_id is not None, "an insert always returns its row"
        raise _missing(connection, owned.owner, task_id, if_match)
    return row


def create_task(owned: OwnedTasks, data: TaskCreate) -> TaskRead:
    now = utc_now()
    values = {
        "id": uuid.uuid4(),
        "user_id": owned.owner,
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
    row = _write_one(owned, _writes(owned.connection.dialect.name).insert, values)
    return _to_read(row)


def get_task(owned: OwnedTasks, task_id: uuid.UUID) -> TaskRead:
    row = owned.connection.execute(_GET, {"owner": owned.owner, "task_id": task_id}).first()
    if row is None:
        raise _missing(owned.connection, owned.owner, task_id)
    return _to_read(row)


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The list filters of GET /tasks; None (or empty) means "not filtered by this"."""

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
        # `@>` on text[] is what the GIN index on tags serves.
        return tasks.c.tags.contains(wanted)
    # SQLite: no wanted tag is missing from the task's JSON array.
    wanted_tags = func.json_each(wanted).table_valued("value").alias("wanted")
    carried = func.json_each(tasks.c.tags).table_valued("value").alias("carried")
    missing = select(wanted_tags.c.value).where(
        wanted_tags.c.value.not_in(select(carried.c.value).scalar_subquery())
    )
    return ~missing.exists()


@cache
def _list_statements(
    dialect: str, shape: tuple[bool, ...], sort: TaskSort
) -> tuple[StatementLambdaElement, StatementLambdaElement]:
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
    order = (ordered, tasks.c.id.desc() if descending else tasks.c.id)
    # The total rides along with the page as a window count: one round trip, not two.
    page = (
        select(*_TASK_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    count = select(func.count()).select_from(tasks).where(*conditions)
    variant = f"{dialect}/{''.join('1' if used else '0' for used in shape)}/{sort}"
    return _named(f"list/{variant}", page), _named(f"count/{variant}", count)


def list_tasks(
    owned: OwnedTasks, *, limit: int, offset: int, filters: TaskFilters, sort: TaskSort
) -> TaskPageRows:
    page, count = _list_statements(owned.connection.dialect.name, filters.shape(), sort)
    params: dict[str, Any] = {
        "owner": owned.owner,
        "limit": limit,
        "offset": offset,
        **filters.params(),
    }
    rows = owned.connection.execute(page, params).all()
    if rows:
        total = rows[0].total
    elif offset == 0:
        total = 0
    else:
        total = owned.connection.scalar(count, params) or 0
    items = [_fields(row) for row in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@cache
def _update_statement(
    dialect: str, fields: frozenset[str], completed: bool | None, conditional: bool
) -> StatementLambdaElement:
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
    where = _OWNED_AT_VERSION if conditional else _OWNED
    statement = tasks.update().where(where).values(values).returning(*_TASK_COLUMNS)
    name = f"update/{dialect}/{','.join(sorted(fields))}/{completed}/{conditional}"
    return _named(name, _versioned(dialect, statement))


def _update(
    owned: OwnedTasks, task_id: uuid.UUID, changes: dict[str, Any], if_match: IfMatch | None
) -> TaskRead:
    completed = changes.pop("completed", None)
    conditional = if_match is not None and if_match.names_versions
    dialect = owned.connection.dialect.name
    statement = _update_statement(dialect, frozenset(changes), completed, conditional)
    params = {f"new_{field}": value for field, value in changes.items()}
    params["now"] = utc_now()
    row = _write_one(owned, statement, params, task_id=task_id, if_match=if_match)
    return _to_read(row)


def replace_task(
    owned: OwnedTasks, task_id: uuid.UUID, data: TaskReplace, if_match: IfMatch | None = None
) -> TaskRead:
    # Every field, so omitted ones return to their defaults.
    return _update(owned, task_id, data.model_dump(), if_match)


def patch_task(
    owned: OwnedTasks,
    task_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: IfMatch | None = None,
) -> TaskRead:
    return _update(owned, task_id, dict(changes), if_match)


def toggle_task(owned: OwnedTasks, task_id: uuid.UUID, if_match: IfMatch | None = None) -> TaskRead:
    writes = _writes(owned.connection.dialect.name)
    conditional = if_match is not None and if_match.names_versions
    statement = writes.toggle_if_match if conditional else writes.toggle
    row = _write_one(owned, statement, {"now": utc_now()}, task_id=task_id, if_match=if_match)
    return _to_read(row)


def delete_task(owned: OwnedTasks, task_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
    writes = _writes(owned.connection.dialect.name)
    conditional = if_match is not None and if_match.names_versions
    statement = writes.delete_if_match if conditional else writes.delete
    _write_one(owned, statement, {}, task_id=task_id, if_match=if_match)


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


def tag_counts(owned: OwnedTasks) -> list[TagCount]:
    statement = _TAG_COUNTS[owned.connection.dialect.name]
    rows = owned.connection.execute(statement, {"owner": owned.owner}).all()
    return [TagCount(name=name, count=count) for name, count in rows]
