"""The `/tasks` routes: read typed inputs, call one service function, return its result."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from todo_api.auth.dependencies import CurrentUser
from todo_api.errors import problem_responses
from todo_api.state import DbConnection
from todo_api.tasks import service
from todo_api.tasks.schemas import (
    SearchText,
    TaskCreate,
    TaskPage,
    TaskPatch,
    TaskRead,
    TaskReplace,
    TaskSort,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

_COMMON = (401, 429, 503)
_BODY = (400, 413, 415, 422)
_ONE_TASK = (403, 404, 422)

TaskId = Annotated[uuid.UUID, Path(description="The task's id (a UUID).")]
MAX_OFFSET = 2**63 - 1


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    summary="Create a task",
    responses={
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The new task's URL."}
            }
        },
        **problem_responses(*_COMMON, *_BODY),
    },
)
async def create_task(
    data: TaskCreate, user: CurrentUser, connection: DbConnection, response: Response
) -> TaskRead:
    task = await service.create_task(connection, user.subject, data)
    response.headers["Location"] = f"/tasks/{task.id}"
    return task


@router.get(
    "",
    response_model=TaskPage,
    summary="List your tasks",
    responses=problem_responses(*_COMMON, 422),
)
async def list_tasks(
    user: CurrentUser,
    connection: DbConnection,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Tasks to skip.")] = 0,
    completed: Annotated[
        Literal["true", "false"] | None, Query(description="Only completed or open tasks.")
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(description="Case-insensitive substring of title or description."),
    ] = None,
    sort: Annotated[TaskSort, Query(description="Sort key; '-' for descending.")] = "-created_at",
) -> TaskPage:
    return await service.list_tasks(
        connection,
        user.subject,
        limit=limit,
        offset=offset,
        completed=None if completed is None else completed == "true",
        query=q,
        sort=sort,
    )


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    summary="Read a task",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def get_task(task_id: TaskId, user: CurrentUser, connection: DbConnection) -> TaskRead:
    return await service.get_task(connection, user.subject, task_id)


@router.put(
    "/{task_id}",
    response_model=TaskRead,
    summary="Replace a task",
    responses=problem_responses(*_COMMON, *_BODY, *_ONE_TASK),
)
async def replace_task(
    task_id: TaskId, data: TaskReplace, user: CurrentUser, connection: DbConnection
) -> TaskRead:
    return await service.replace_task(connection, user.subject, task_id, data)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    summary="Change some fields of a task",
    responses=problem_responses(*_COMMON, *_BODY, *_ONE_TASK),
)
async def patch_task(
    task_id: TaskId, data: TaskPatch, user: CurrentUser, connection: DbConnection
) -> TaskRead:
    return await service.patch_task(connection, user.subject, task_id, data.changes())


@router.patch(
    "/{task_id}/toggle",
    response_model=TaskRead,
    summary="Flip a task's completion",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def toggle_task(task_id: TaskId, user: CurrentUser, connection: DbConnection) -> TaskRead:
    return await service.toggle_task(connection, user.subject, task_id)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a task",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def delete_task(task_id: TaskId, user: CurrentUser, connection: DbConnection) -> Response:
    await service.delete_task(connection, user.subject, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
