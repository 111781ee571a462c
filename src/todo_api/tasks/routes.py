"""The `/tasks` and `/tags` routes: read typed inputs, call one `TaskService` method, return
its result."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from todo_api.errors import idempotency_problem_responses, problem_responses
from todo_api.idempotency.keys import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from todo_api.idempotency.keys import idempotent_request
from todo_api.opaque_tokens import MAX_OPAQUE_TOKEN_LENGTH
from todo_api.tasks.changes import (
    DEFAULT_CHANGES_LIMIT,
    MAX_CHANGES_LIMIT,
    ChangesResponse,
    TaskChanges,
)
from todo_api.tasks.conditions import IfMatch, names_current
from todo_api.tasks.dependencies import TaskServiceDep
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.responses import created_task, current_task
from todo_api.tasks.schemas import (
    DueTime,
    PriorityField,
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
from todo_api.tasks.tags import MAX_TAGS, Tag

router = APIRouter(prefix="/tasks", tags=["tasks"])

_COMMON = (401, 429, 503)
_BODY = (400, 413, 415, 422)
_ONE_TASK = (403, 404, 422)
_CONDITIONAL_WRITE = (*_ONE_TASK, 412)

TaskId = Annotated[
    uuid.UUID,
    Path(description="The task's id (a UUID).", examples=["0b9e4c1e-8d5a-4f43-9c1a-2f4b7c3d9e10"]),
]
# JavaScript's largest safe integer: a bigger bound is rounded in a browser's JSON.parse.
MAX_OFFSET = 2**53 - 1

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


# The routes that accept Idempotency-Key read it from the raw headers (idempotency/keys.py)
# rather than as a FastAPI parameter, so requests without it pay nothing; documented here.
IDEMPOTENT: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "Makes a retry safe: a repeat of this request with the same key (within "
                "IDEMPOTENCY_KEY_TTL_SECONDS, 24 hours by default) gets the first response "
                "again, with `Idempotent-Replayed: true`, and changes nothing. 1 to 255 visible "
                'ASCII characters; the quoted form `"abc"` means `abc`.'
            ),
            "schema": {
                "type": "string",
                "pattern": IDEMPOTENCY_KEY_PATTERN,
                "examples": ["5c0b7c1e-2f47-4a8e-9f3c-1d0d7e5b8a11"],
            },
        }
    ],
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present on a replay of a stored response.",
    }
}
_IDEMPOTENCY_PROBLEMS = idempotency_problem_responses()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    openapi_extra=IDEMPOTENT,
    summary="Create a task",
    responses={
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The new task's URL."},
                **_ETAG_HEADER,
                **REPLAYED_HEADER,
            }
        },
        **problem_responses(*_COMMON, *_BODY),
        **_IDEMPOTENCY_PROBLEMS,
    },
)
async def create_task(data: TaskCreate, tasks: TaskServiceDep, request: Request) -> Response:
    keyed = await idempotent_request(request)
    return (await tasks.write_once(keyed, created_task, tasks.create, data)).to_response()


@router.get(
    "",
    response_model=TaskPage,
    summary="List your tasks",
    responses=problem_responses(*_COMMON, 422),
)
async def list_tasks(
    tasks: TaskServiceDep,
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
    list_id: Annotated[
        uuid.UUID | None,
        Query(
            description=(
                "Only the tasks of this list. The id of a list that is not yours finds no task."
            ),
            examples=["5f0c2a8e-9b1d-4c3e-8a7f-6d5e4c3b2a19"],
        ),
    ] = None,
    parent_id: Annotated[
        uuid.UUID | None,
        Query(
            description="Only the subtasks of this task (its children).",
            examples=["0b9e4c1e-8d5a-4f43-9c1a-2f4b7c3d9e10"],
        ),
    ] = None,
    top_level: Annotated[
        QueryBoolean | None,
        Query(
            description="Only tasks without a parent (`true`), or only subtasks (`false`).",
            examples=[True],
        ),
    ] = None,
    sort: Annotated[
        TaskSort,
        Query(
            description=(
                "Sort key; '-' for descending. Ties are broken by id. Tasks without a due "
                "date come last for both due_at and -due_at; priority sorts by rank; "
                "position is the manual order of siblings."
            ),
            examples=["-created_at"],
        ),
    ] = "-created_at",
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_OPAQUE_TOKEN_LENGTH,
            description=(
                "The `next_cursor` of the previous page: the page after it, with the same "
                "filters and sort (`limit` may change; `offset` must be absent or 0). Tasks "
                "written between pages never make another be skipped or repeated. A cursor "
                "made for other filters or another sort, or altered, is 422."
            ),
            examples=["WyJCdXkgbWlsayIsIjBiOWU0YzFlIl0.Kq1vF0mXo3B8zZ1dY7wN2g"],
        ),
    ] = None,
) -> TaskPageResponse:
    filters = TaskFilters(
        completed=completed,
        query=q,
        priorities=tuple(dict.fromkeys(priority or ())),
        tags=tuple(dict.fromkeys(tag or ())),
        due_before=due_before,
        due_after=due_after,
        list_id=list_id,
        parent_id=parent_id,
        top_level=top_level,
    )
    page = await tasks.page(limit=limit, offset=offset, filters=filters, sort=sort, cursor=cursor)
    return TaskPageResponse(page)


# Declared before /{task_id}, which would otherwise take "changes" for a (malformed) id.
@router.get(
    "/changes",
    response_model=TaskChanges,
    summary="Catch up with the changes to your tasks (incremental sync)",
    description=(
        "Without `since`: every current task. With `since` (the `next_since` of an earlier "
        "call): the current state of every task created or changed since, and the ids of the "
        "tasks deleted since. Repeat with `since=next_since` until `has_more` is false; "
        "upserting `tasks` and removing `deleted` then leaves exactly your tasks as they are "
        "on the server. Tokens follow the order in which changes commit, so none is missed "
        "while others write. A token older than SYNC_TOMBSTONE_DAYS (30 by default) is 410: "
        "sync again from the start."
    ),
    responses={
        410: {
            **problem_responses(410)[410],
            "description": (
                "The token is older than the deletions kept (SYNC_TOMBSTONE_DAYS), or was "
                "issued before the account's data was erased: sync again without `since`."
            ),
        },
        **problem_responses(*_COMMON, 422),
    },
)
async def list_changes(
    tasks: TaskServiceDep,
    since: Annotated[
        str | None,
        Query(
            max_length=MAX_OPAQUE_TOKEN_LENGTH,
            description="The `next_since` of the previous call; omit it to start afresh.",
            examples=["WzQyLDE3OTYwNjI4ODld.3yqkVn0d6kYkqv1m0Zz3Aw"],
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1, le=MAX_CHANGES_LIMIT, description="Most changes in one answer.", examples=[500]
        ),
    ] = DEFAULT_CHANGES_LIMIT,
) -> ChangesResponse:
    return ChangesResponse(await tasks.changes(since, limit))


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
    task_id: TaskId, tasks: TaskServiceDep, if_none_match: IfNoneMatchHeader = None
) -> Response:
    task = await tasks.get(task_id)
    if names_current(if_none_match, task.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": task.etag})
    return current_task(task).to_response()


@router.put(
    "/{task_id}",
    response_model=TaskRead,
    summary="Replace a task",
    responses={200: _WITH_ETAG, **problem_responses(*_COMMON, *_BODY, *_CONDITIONAL_WRITE)},
)
async def replace_task(
    task_id: TaskId,
    data: TaskReplace,
    tasks: TaskServiceDep,
    if_match: IfMatchHeader = None,
) -> Response:
    task = await tasks.replace(task_id, data, IfMatch.from_header(if_match))
    return current_task(task).to_response()


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    openapi_extra=IDEMPOTENT,
    summary="Change some fields of a task",
    responses={
        200: {**_WITH_ETAG, "headers": {**_ETAG_HEADER, **REPLAYED_HEADER}},
        **problem_responses(*_COMMON, *_BODY, *_CONDITIONAL_WRITE),
        **_IDEMPOTENCY_PROBLEMS,
    },
)
async def patch_task(
    task_id: TaskId,
    data: TaskPatch,
    tasks: TaskServiceDep,
    request: Request,
    if_match: IfMatchHeader = None,
) -> Response:
    condition = IfMatch.from_header(if_match)
    keyed = await idempotent_request(request)
    patched = await tasks.write_once(
        keyed, current_task, tasks.patch, task_id, data.changes(), condition
    )
    return patched.to_response()


@router.patch(
    "/{task_id}/toggle",
    response_model=TaskRead,
    openapi_extra=IDEMPOTENT,
    summary="Flip a task's completion",
    responses={
        200: {**_WITH_ETAG, "headers": {**_ETAG_HEADER, **REPLAYED_HEADER}},
        **problem_responses(*_COMMON, *_CONDITIONAL_WRITE),
        **_IDEMPOTENCY_PROBLEMS,
    },
)
async def toggle_task(
    task_id: TaskId, tasks: TaskServiceDep, request: Request, if_match: IfMatchHeader = None
) -> Response:
    condition = IfMatch.from_header(if_match)
    keyed = await idempotent_request(request)
    toggled = await tasks.write_once(keyed, current_task, tasks.toggle, task_id, condition)
    return toggled.to_response()


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a task",
    responses=problem_responses(*_COMMON, *_CONDITIONAL_WRITE),
)
async def delete_task(
    task_id: TaskId, tasks: TaskServiceDep, if_match: IfMatchHeader = None
) -> Response:
    await tasks.delete(task_id, IfMatch.from_header(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
