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
from functools import cache
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    StatementLambdaElement,
    and_,
    bindparam,
    case,
    func,
    lambda_stmt,
    literal,
    select,
)
from sqlalchemy.engine import Connection, Row

from todo_api.database import UTCDateTime, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.state import Resources
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import TaskCreate, TaskPageRows, TaskRead, TaskReplace, TaskSort

_TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.completed_at,
)
_TASK_FIELDS = tuple(column.key for column in _TASK_COLUMNS)

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
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
_GET = _named("get", select(*_TASK_COLUMNS).where(_OWNED))
_EXISTS = _named("exists", select(literal(1)).where(tasks.c.id == bindparam("task_id")))
_INSERT = _named("insert", tasks.insert().returning(*_TASK_COLUMNS))
_DELETE = _named("delete", tasks.delete().where(_OWNED).returning(tasks.c.id))
# SET expressions read the row's old values, so concurrent toggles serialise on the row
# lock and none is lost.
_TOGGLE = _named(
    "toggle",
    tasks.update()
    .where(_OWNED)
    .values(
        completed=~tasks.c.completed,
        completed_at=case((tasks.c.completed, None), else_=_NOW),
        updated_at=_NOW,
    )
    .returning(*_TASK_COLUMNS),
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


def _missing(connection: Connection, task_id: uuid.UUID) -> Exception:
    """The one place that decides 404 vs 403 once an owner-scoped statement found nothing."""
    exists = connection.scalar(_EXISTS, {"task_id": task_id})
    if exists is None:
        return NotFoundError("No task has this id.")
    return ForbiddenError("This task belongs to another user.")


def _one_owned(owned: OwnedTasks, statement: Any, task_id: uuid.UUID, **params: Any) -> Row[Any]:
    result = owned.connection.execute(
        statement, {"owner": owned.owner, "task_id": task_id, **params}
    )
    row = result.first()
    if row is None:
        raise _missing(owned.connection, task_id)
    return row


def create_task(owned: OwnedTasks, data: TaskCreate) -> TaskRead:
    now = utc_now()
    values = {
        "id": uuid.uuid4(),
        "user_id": owned.owner,
        "title": data.title,
        "description": data.description,
        "completed": data.completed,
        "created_at": now,
        "updated_at": now,
        "completed_at": now if data.completed else None,
    }
    row = owned.connection.execute(_INSERT, values).one()
    return _to_read(row)


def get_task(owned: OwnedTasks, task_id: uuid.UUID) -> TaskRead:
    return _to_read(_one_owned(owned, _GET, task_id))


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@cache
def _list_statements(
    by_completion: bool, searching: bool, sort: TaskSort
) -> tuple[StatementLambdaElement, StatementLambdaElement]:
    """The page query (with its total as a window count) and the plain count query."""
    conditions: list[ColumnElement[bool]] = [tasks.c.user_id == bindparam("owner")]
    if by_completion:
        conditions.append(tasks.c.completed == bindparam("completed"))
    if searching:
        pattern: BindParameter[str] = bindparam("pattern")
        conditions.append(
            tasks.c.title.ilike(pattern, escape="\\")
            | tasks.c.description.ilike(pattern, escape="\\")
        )
    key = _SORT_KEYS[sort.lstrip("-")]
    order = (key.desc(), tasks.c.id.desc()) if sort.startswith("-") else (key, tasks.c.id)
    # The total rides along with the page as a window count: one round trip, not two.
    page = (
        select(*_TASK_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    count = select(func.count()).select_from(tasks).where(*conditions)
    variant = f"{by_completion}/{searching}/{sort}"
    return _named(f"list/{variant}", page), _named(f"count/{variant}", count)


def list_tasks(
    owned: OwnedTasks,
    *,
    limit: int,
    offset: int,
    completed: bool | None,
    query: str | None,
    sort: TaskSort,
) -> TaskPageRows:
    page, count = _list_statements(completed is not None, bool(query), sort)
    params: dict[str, Any] = {"owner": owned.owner, "limit": limit, "offset": offset}
    if completed is not None:
        params["completed"] = completed
    if query:
        params["pattern"] = _like_pattern(query)
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
def _update_statement(fields: frozenset[str], completed: bool | None) -> StatementLambdaElement:
    values: dict[str, Any] = {field: bindparam(f"new_{field}") for field in sorted(fields)}
    values["updated_at"] = _NOW
    # completed_at is the time of the latest change to completed: kept while a completed
    # task stays completed, set when it becomes completed, cleared otherwise.
    if completed is True:
        values["completed"] = True
        values["completed_at"] = func.coalesce(tasks.c.completed_at, _NOW)
    elif completed is False:
        values["completed"] = False
        values["completed_at"] = None
    statement = tasks.update().where(_OWNED).values(values).returning(*_TASK_COLUMNS)
    return _named(f"update/{','.join(sorted(fields))}/{completed}", statement)


def _update(owned: OwnedTasks, task_id: uuid.UUID, changes: dict[str, Any]) -> TaskRead:
    completed = changes.pop("completed", None)
    statement = _update_statement(frozenset(changes), completed)
    params = {f"new_{field}": value for field, value in changes.items()}
    row = _one_owned(owned, statement, task_id, now=utc_now(), **params)
    return _to_read(row)


def replace_task(owned: OwnedTasks, task_id: uuid.UUID, data: TaskReplace) -> TaskRead:
    changes = {"title": data.title, "description": data.description, "completed": data.completed}
    return _update(owned, task_id, changes)


def patch_task(owned: OwnedTasks, task_id: uuid.UUID, changes: dict[str, Any]) -> TaskRead:
    return _update(owned, task_id, dict(changes))


def toggle_task(owned: OwnedTasks, task_id: uuid.UUID) -> TaskRead:
    return _to_read(_one_owned(owned, _TOGGLE, task_id, now=utc_now()))


def delete_task(owned: OwnedTasks, task_id: uuid.UUID) -> None:
    _one_owned(owned, _DELETE, task_id)
