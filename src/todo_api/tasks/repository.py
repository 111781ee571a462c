"""`TaskRepository`: one user's tasks over one connection, every statement scoped by owner.

Each operation is one SQL statement, so concurrent writers cannot lose each other's changes
and, on the autocommit connection of `Database.connect()`, each costs one round trip. A
second query runs only after a miss, to tell "someone else's task" (403) from "no task"
(404). Statements are built once, with bound parameters: building SQLAlchemy constructs per
request costs more than running them. To add a condition (an If-Match version, say), add it
to the statement's WHERE and its value to the parameters; to add a step that must be atomic
with the write (an idempotency record), fold it into the statement as a CTE on PostgreSQL,
or run the repository on `Database.transaction()` where a CTE cannot write (SQLite).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
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

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNED: ColumnElement[bool] = and_(
    tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner")
)
_GET = select(*_TASK_COLUMNS).where(_OWNED)
_EXISTS = select(literal(1)).where(tasks.c.id == bindparam("task_id"))
_INSERT = tasks.insert().returning(*_TASK_COLUMNS)
_DELETE = tasks.delete().where(_OWNED).returning(tasks.c.id)
# SET expressions read the row's old values, so concurrent toggles serialise on the row
# lock and none is lost.
_TOGGLE = (
    tasks.update()
    .where(_OWNED)
    .values(
        completed=~tasks.c.completed,
        completed_at=case((tasks.c.completed, None), else_=_NOW),
        updated_at=_NOW,
    )
    .returning(*_TASK_COLUMNS)
)


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    # A page's rows carry one more column (the total) after the task's own.
    return dict(zip(_TASK_FIELDS, row, strict=False))


def _to_read(row: Sequence[Any]) -> TaskRead:
    # Rows come from our own typed columns: validating them again would only cost time.
    return TaskRead.model_construct(**_fields(row))


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@cache
def _list_statements(
    by_completion: bool, searching: bool, sort: TaskSort
) -> tuple[Select[Any], Select[Any]]:
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
    return page, count


@cache
def _update_statement(fields: frozenset[str], completed: bool | None) -> Executable:
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
    return tasks.update().where(_OWNED).values(values).returning(*_TASK_COLUMNS)


class TaskRepository:
    """The tasks of `owner`, reached through `connection` (see todo_api.database)."""

    __slots__ = ("connection", "owner")

    def __init__(self, connection: AsyncConnection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    async def create(self, data: TaskCreate) -> TaskRead:
        now = utc_now()
        values = {
            "id": uuid.uuid4(),
            "user_id": self.owner,
            "title": data.title,
            "description": data.description,
            "completed": data.completed,
            "created_at": now,
            "updated_at": now,
            "completed_at": now if data.completed else None,
        }
        row = (await self.connection.execute(_INSERT, values)).one()
        return _to_read(row)

    async def get(self, task_id: uuid.UUID) -> TaskRead:
        return _to_read(await self._one_owned(_GET, task_id))

    async def page(
        self,
        *,
        limit: int,
        offset: int,
        completed: bool | None,
        query: str | None,
        sort: TaskSort,
    ) -> TaskPageRows:
        page, count = _list_statements(completed is not None, bool(query), sort)
        params: dict[str, Any] = {"owner": self.owner, "limit": limit, "offset": offset}
        if completed is not None:
            params["completed"] = completed
        if query:
            params["pattern"] = _like_pattern(query)
        rows = (await self.connection.execute(page, params)).all()
        if rows:
            total = rows[0].total
        elif offset == 0:
            total = 0
        else:
            total = await self.connection.scalar(count, params) or 0
        items = [_fields(row) for row in rows]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    async def replace(self, task_id: uuid.UUID, data: TaskReplace) -> TaskRead:
        changes = {
            "title": data.title,
            "description": data.description,
            "completed": data.completed,
        }
        return await self.patch(task_id, changes)

    async def patch(self, task_id: uuid.UUID, changes: dict[str, Any]) -> TaskRead:
        changes = dict(changes)
        completed = changes.pop("completed", None)
        statement = _update_statement(frozenset(changes), completed)
        params = {f"new_{field}": value for field, value in changes.items()}
        return _to_read(await self._one_owned(statement, task_id, now=utc_now(), **params))

    async def toggle(self, task_id: uuid.UUID) -> TaskRead:
        return _to_read(await self._one_owned(_TOGGLE, task_id, now=utc_now()))

    async def delete(self, task_id: uuid.UUID) -> None:
        await self._one_owned(_DELETE, task_id)

    async def _one_owned(
        self, statement: Executable, task_id: uuid.UUID, **params: Any
    ) -> Row[Any]:
        result = await self.connection.execute(
            statement, {"owner": self.owner, "task_id": task_id, **params}
        )
        row = result.first()
        if row is None:
            raise await self._missing(task_id)
        return row

    async def _missing(self, task_id: uuid.UUID) -> Exception:
        """The one place that decides 404 vs 403 once an owner-scoped statement found nothing."""
        exists = await self.connection.scalar(_EXISTS, {"task_id": task_id})
        if exists is None:
            return NotFoundError("No task has this id.")
        return ForbiddenError("This task belongs to another user.")
