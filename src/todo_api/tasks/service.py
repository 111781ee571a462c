"""Owner-scoped task queries. Every statement is scoped by the owner; none commits.

Each operation is one SQL statement, so concurrent writers cannot lose each other's
changes; a second query runs only to tell "someone else's task" (403) from "no task" (404).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import TaskCreate, TaskPage, TaskRead, TaskReplace, TaskSort

_TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.completed_at,
)

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
}


def _owned(owner: str, task_id: uuid.UUID) -> ColumnElement[bool]:
    return and_(tasks.c.id == task_id, tasks.c.user_id == owner)


def _to_read(row: object) -> TaskRead:
    return TaskRead.model_validate(row, from_attributes=True)


async def _missing(connection: AsyncConnection, task_id: uuid.UUID) -> Exception:
    """The one place that decides 404 vs 403 once an owner-scoped statement found nothing."""
    exists = await connection.scalar(select(literal(1)).where(tasks.c.id == task_id))
    if exists is None:
        return NotFoundError("No task has this id.")
    return ForbiddenError("This task belongs to another user.")


async def create_task(connection: AsyncConnection, owner: str, data: TaskCreate) -> TaskRead:
    now = utc_now()
    statement = (
        tasks.insert()
        .values(
            id=uuid.uuid4(),
            user_id=owner,
            title=data.title,
            description=data.description,
            completed=data.completed,
            created_at=now,
            updated_at=now,
            completed_at=now if data.completed else None,
        )
        .returning(*_TASK_COLUMNS)
    )
    row = (await connection.execute(statement)).one()
    return _to_read(row)


async def get_task(connection: AsyncConnection, owner: str, task_id: uuid.UUID) -> TaskRead:
    statement = select(*_TASK_COLUMNS).where(_owned(owner, task_id))
    row = (await connection.execute(statement)).first()
    if row is None:
        raise await _missing(connection, task_id)
    return _to_read(row)


async def list_tasks(
    connection: AsyncConnection,
    owner: str,
    *,
    limit: int,
    offset: int,
    completed: bool | None,
    query: str | None,
    sort: TaskSort,
) -> TaskPage:
    conditions: list[ColumnElement[bool]] = [tasks.c.user_id == owner]
    if completed is not None:
        conditions.append(tasks.c.completed.is_(completed))
    if query:
        conditions.append(
            tasks.c.title.icontains(query, autoescape=True)
            | tasks.c.description.icontains(query, autoescape=True)
        )
    key = _SORT_KEYS[sort.lstrip("-")]
    order = (key.desc(), tasks.c.id.desc()) if sort.startswith("-") else (key, tasks.c.id)
    # The total rides along with the page as a window count: one round trip, not two.
    statement = (
        select(*_TASK_COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    rows = (await connection.execute(statement)).all()
    if rows:
        total = rows[0].total
    elif offset == 0:
        total = 0
    else:
        total = await connection.scalar(select(func.count()).select_from(tasks).where(*conditions))
    return TaskPage(
        items=[_to_read(row) for row in rows], total=total or 0, limit=limit, offset=offset
    )


async def _update(
    connection: AsyncConnection,
    owner: str,
    task_id: uuid.UUID,
    values: dict[str, Any],
    now: datetime,
) -> TaskRead:
    statement = (
        tasks.update()
        .where(_owned(owner, task_id))
        .values(**values, updated_at=now)
        .returning(*_TASK_COLUMNS)
    )
    row = (await connection.execute(statement)).first()
    if row is None:
        raise await _missing(connection, task_id)
    return _to_read(row)


def _timestamp(now: datetime) -> ColumnElement[datetime]:
    return literal(now, type_=UTCDateTime())


def _completion(completed: bool, now: datetime) -> dict[str, Any]:
    # completed_at is the time of the latest change to completed: kept while a completed
    # task stays completed, set when it becomes completed, cleared otherwise.
    if completed:
        return {
            "completed": True,
            "completed_at": func.coalesce(tasks.c.completed_at, _timestamp(now)),
        }
    return {"completed": False, "completed_at": None}


async def replace_task(
    connection: AsyncConnection, owner: str, task_id: uuid.UUID, data: TaskReplace
) -> TaskRead:
    now = utc_now()
    values = {
        "title": data.title,
        "description": data.description,
        **_completion(data.completed, now),
    }
    return await _update(connection, owner, task_id, values, now)


async def patch_task(
    connection: AsyncConnection, owner: str, task_id: uuid.UUID, changes: dict[str, Any]
) -> TaskRead:
    now = utc_now()
    values = dict(changes)
    if "completed" in values:
        values.update(_completion(values.pop("completed"), now))
    return await _update(connection, owner, task_id, values, now)


async def toggle_task(connection: AsyncConnection, owner: str, task_id: uuid.UUID) -> TaskRead:
    # One statement: SET expressions read the row's old values, so concurrent toggles
    # serialise on the row lock and none is lost.
    now = utc_now()
    values = {
        "completed": ~tasks.c.completed,
        "completed_at": case((tasks.c.completed, None), else_=_timestamp(now)),
    }
    return await _update(connection, owner, task_id, values, now)


async def delete_task(connection: AsyncConnection, owner: str, task_id: uuid.UUID) -> None:
    statement = tasks.delete().where(_owned(owner, task_id)).returning(tasks.c.id)
    if (await connection.execute(statement)).first() is None:
        raise await _missing(connection, task_id)
