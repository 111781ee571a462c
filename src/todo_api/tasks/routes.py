"""The `/tasks` routes: read typed inputs, call one repository method, return its result."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from todo_api.auth.dependencies import BEARER_SECURITY
from todo_api.errors import problem_responses
from todo_api.tasks.dependencies import TaskRepositoryDep
from todo_api.tasks.schemas import (
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

TaskId = Annotated[uuid.UUID, Path(description="The task's id (a UUID).")]
MAX_OFFSET = 2**63 - 1


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
) -> TaskPageResponse:
    page = await tasks.page(
        limit=limit,
        offset=offset,
        completed=None if completed is None else completed == "true",
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
