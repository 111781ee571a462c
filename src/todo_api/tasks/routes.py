"""The `/tasks` routes: read typed inputs, call one repository method, return its result."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from todo_api.auth.dependencies import BEARER_SECURITY
from todo_api.errors import problem_responses
from todo_api.tasks.dependencies import TaskRepositoryDep
from todo_api.tasks.schemas import (
    QueryBoolean,
    SearchText,
    TaskCreate,
    TaskPage,
    TaskPageResponse,
    TaskPatch,
    TaskRead,
    TaskReplace,
    TaskSort,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])
_SECURED = {"security": BEARER_SECURITY}

_COMMON = (401, 429, 503)
_BODY = (400, 413, 415, 422)
_ONE_TASK = (403, 404, 422)

TaskId = Annotated[
    uuid.UUID,
    Path(description="The task's id (a UUID).", examples=["0b9e4c1e-8d5a-4f43-9c1a-2f4b7c3d9e10"]),
]
# JavaScript's largest safe integer: a bigger bound is rounded in a browser's JSON.parse.
MAX_OFFSET = 2**53 - 1


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    openapi_extra=_SECURED,
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
async def create_task(data: TaskCreate, tasks: TaskRepositoryDep, response: Response) -> TaskRead:
    task = await tasks.create(data)
    response.headers["Location"] = f"/tasks/{task.id}"
    return task


@router.get(
    "",
    response_model=TaskPage,
    openapi_extra=_SECURED,
    summary="List your tasks",
    responses=problem_responses(*_COMMON, 422),
)
async def list_tasks(
    tasks: TaskRepositoryDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.", examples=[20])] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Tasks to skip.", examples=[0])
    ] = 0,
    completed: Annotated[
        QueryBoolean | None,
        Query(description="Only completed (`true`) or open (`false`) tasks.", examples=[False]),
    ] = None,
    q: Annotated[
        SearchText | None,
        Query(description="Case-insensitive substring of title or description."),
    ] = None,
    sort: Annotated[
        TaskSort, Query(description="Sort key; '-' for descending.", examples=["-created_at"])
    ] = "-created_at",
) -> TaskPageResponse:
    page = await tasks.page(
        limit=limit,
        offset=offset,
        completed=completed,
        query=q,
        sort=sort,
    )
    return TaskPageResponse(page)


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    openapi_extra=_SECURED,
    summary="Read a task",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def get_task(task_id: TaskId, tasks: TaskRepositoryDep) -> TaskRead:
    return await tasks.get(task_id)


@router.put(
    "/{task_id}",
    response_model=TaskRead,
    openapi_extra=_SECURED,
    summary="Replace a task",
    responses=problem_responses(*_COMMON, *_BODY, *_ONE_TASK),
)
async def replace_task(task_id: TaskId, data: TaskReplace, tasks: TaskRepositoryDep) -> TaskRead:
    return await tasks.replace(task_id, data)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    openapi_extra=_SECURED,
    summary="Change some fields of a task",
    responses=problem_responses(*_COMMON, *_BODY, *_ONE_TASK),
)
async def patch_task(task_id: TaskId, data: TaskPatch, tasks: TaskRepositoryDep) -> TaskRead:
    return await tasks.patch(task_id, data.changes())


@router.patch(
    "/{task_id}/toggle",
    response_model=TaskRead,
    openapi_extra=_SECURED,
    summary="Flip a task's completion",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def toggle_task(task_id: TaskId, tasks: TaskRepositoryDep) -> TaskRead:
    return await tasks.toggle(task_id)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    openapi_extra=_SECURED,
    summary="Delete a task",
    responses=problem_responses(*_COMMON, *_ONE_TASK),
)
async def delete_task(task_id: TaskId, tasks: TaskRepositoryDep) -> Response:
    await tasks.delete(task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
