"""The `/tasks` and `/tags` routes: read typed inputs, call one repository method, return its
result."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Response, status

from todo_api.errors import problem_responses
from todo_api.tasks.conditions import IfMatch, parse_entity_tags
from todo_api.tasks.dependencies import TaskRepositoryDep
from todo_api.tasks.repository import TaskFilters
from todo_api.tasks.schemas import (
    MAX_TAGS,
    DueTime,
    PriorityField,
    SearchText,
    Tag,
    TagList,
    TaskCreate,
    TaskPage,
    TaskPageResponse,
    TaskPatch,
    TaskRead,
    TaskReplace,
    TaskSort,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

_COMMON = (401, 429, 503)
_BODY = (400, 413, 415, 422)
_ONE_TASK = (403, 404, 422)
_CONDITIONAL_WRITE = (*_ONE_TASK, 412)

TaskId = Annotated[uuid.UUID, Path(description="The task's id (a UUID).")]
MAX_OFFSET = 2**63 - 1

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            "Apply the change only if the task's current ETag is one of these (strong "
            "comparison: a weak W/ tag never matches), or if it exists at all for `*`. "
            "Otherwise 412, and nothing changes."
        ),
        examples=['"42"'],
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description=(
            "Answer 304 with no body when the task's current ETag is one of these "
            "(weak comparison), or for `*`."
        ),
        examples=['"42"'],
    ),
]
_ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The task's current entity tag, equal to its `etag` field.",
    }
}
_WITH_ETAG = {"description": "The task.", "headers": _ETAG_HEADER}


def _tag_etag(response: Response, task: TaskRead) -> TaskRead:
    response.headers["ETag"] = task.etag
    return task


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    summary="Create a task",
    responses={
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The new task's URL."},
                **_ETAG_HEADER,
            }
        },
        **problem_responses(*_COMMON, *_BODY),
    },
)
async def create_task(data: TaskCreate, tasks: TaskRepositoryDep, response: Response) -> TaskRead:
    task = await tasks.create(data)
    response.headers["Location"] = f"/tasks/{task.id}"
    return _tag_etag(response, task)


@router.get(
    "",
    response_model=TaskPage,
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
    priority: Annotated[
        list[PriorityField] | None,
        Query(
            description="Only tasks of any of these priorities (repeat the parameter).",
            examples=[["high", "medium"]],
        ),
    ] = None,
    tag: Annotated[
        list[Tag] | None,
        Query(
            max_length=MAX_TAGS,
            description=(
                "Only tasks that carry every one of these tags (repeat the parameter), "
                "compared after trimming and lower-casing."
            ),
            examples=[["errands", "home"]],
        ),
    ] = None,
    due_before: Annotated[
        DueTime | None,
        Query(
            description="Only tasks due before this time (tasks with no due date never).",
            examples=["2026-12-08T00:00:00+01:00"],
        ),
    ] = None,
    due_after: Annotated[
        DueTime | None,
        Query(
            description="Only tasks due at or after this time (tasks with no due date never).",
            examples=["2026-12-01T00:00:00+01:00"],
        ),
    ] = None,
    sort: Annotated[
        TaskSort,
        Query(
            description=(
                "Sort key; '-' for descending. Ties are broken by id. Tasks without a due "
                "date come last for both due_at and -due_at; priority sorts by rank."
            )
        ),
    ] = "-created_at",
) -> TaskPageResponse:
    filters = TaskFilters(
        completed=None if completed is None else completed == "true",
        query=q,
        priorities=tuple(dict.fromkeys(priority or ())),
        tags=tuple(dict.fromkeys(tag or ())),
        due_before=due_before,
        due_after=due_after,
    )
    page = await tasks.page(limit=limit, offset=offset, filters=filters, sort=sort)
    return TaskPageResponse(page)


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    summary="Read a task",
    responses={
        200: _WITH_ETAG,
        304: {
            "description": "Not modified: If-None-Match names the task's current ETag. No body.",
            "headers": _ETAG_HEADER,
        },
        **problem_responses(*_COMMON, *_ONE_TASK),
    },
)
async def get_task(
    task_id: TaskId,
    tasks: TaskRepositoryDep,
    response: Response,
    if_none_match: IfNoneMatchHeader = None,
) -> TaskRead | Response:
    task = await tasks.get(task_id)
    cached = parse_entity_tags(if_none_match)
    if cached is not None and cached.weakly_match(task.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": task.etag})
    return _tag_etag(response, task)


@router.put(
    "/{task_id}",
    response_model=TaskRead,
    summary="Replace a task",
    responses={200: _WITH_ETAG, **problem_responses(*_COMMON, *_BODY, *_CONDITIONAL_WRITE)},
)
async def replace_task(
    task_id: TaskId,
    data: TaskReplace,
    tasks: TaskRepositoryDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> TaskRead:
    task = await tasks.replace(task_id, data, IfMatch.from_header(if_match))
    return _tag_etag(response, task)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    summary="Change some fields of a task",
    responses={200: _WITH_ETAG, **problem_responses(*_COMMON, *_BODY, *_CONDITIONAL_WRITE)},
)
async def patch_task(
    task_id: TaskId,
    data: TaskPatch,
    tasks: TaskRepositoryDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> TaskRead:
    if_match_versions = IfMatch.from_header(if_match)
    task = await tasks.patch(task_id, data.changes(), if_match_versions)
    return _tag_etag(response, task)


@router.patch(
    "/{task_id}/toggle",
    response_model=TaskRead,
    summary="Flip a task's completion",
    responses={200: _WITH_ETAG, **problem_responses(*_COMMON, *_CONDITIONAL_WRITE)},
)
async def toggle_task(
    task_id: TaskId, tasks: TaskRepositoryDep, response: Response, if_match: IfMatchHeader = None
) -> TaskRead:
    task = await tasks.toggle(task_id, IfMatch.from_header(if_match))
    return _tag_etag(response, task)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a task",
    responses=problem_responses(*_COMMON, *_CONDITIONAL_WRITE),
)
async def delete_task(
    task_id: TaskId, tasks: TaskRepositoryDep, if_match: IfMatchHeader = None
) -> Response:
    await tasks.delete(task_id, IfMatch.from_header(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


tags_router = APIRouter(prefix="/tags", tags=["tags"])


@tags_router.get(
    "",
    response_model=TagList,
    summary="List your tags with the number of tasks that carry each",
    responses=problem_responses(*_COMMON),
)
async def list_tags(tasks: TaskRepositoryDep) -> TagList:
    return TagList(items=await tasks.tag_counts())
