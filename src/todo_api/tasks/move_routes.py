"""`POST /tasks/{id}/move`: a task placed among new siblings (manual order, subtasks)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from todo_api.errors import idempotency_problem_responses, problem_responses
from todo_api.idempotency.keys import idempotent_request
from todo_api.tasks.conditions import IfMatch
from todo_api.tasks.dependencies import TaskServiceDep
from todo_api.tasks.placement_schemas import TaskMove
from todo_api.tasks.responses import current_task
from todo_api.tasks.routes import IDEMPOTENT, REPLAYED_HEADER, IfMatchHeader, TaskId
from todo_api.tasks.schemas import TaskRead

router = APIRouter(prefix="/tasks", tags=["tasks"])

_ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The task's current entity tag, equal to its `etag` field.",
    }
}


@router.post(
    "/{task_id}/move",
    response_model=TaskRead,
    openapi_extra=IDEMPOTENT,
    summary="Move a task: reorder it, give it another parent, or another list",
    description=(
        "Places the task right after `after` among its new siblings (null: first; absent: "
        "last). Absent fields keep their values, except that a new `list_id` without "
        "`parent_id` makes the task top-level there; its subtasks go with it. Only the moved "
        "task (and, across lists, its subtasks) changes, so concurrent moves in one list "
        "all apply. A `parent_id` or `after` that breaks the rules is 422 naming it."
    ),
    responses={
        200: {"description": "The moved task.", "headers": {**_ETAG_HEADER, **REPLAYED_HEADER}},
        **problem_responses(401, 429, 503, 400, 413, 415, 422, 403, 404, 412),
        **idempotency_problem_responses(),
    },
)
async def move_task(
    task_id: TaskId,
    body: TaskMove,
    tasks: TaskServiceDep,
    request: Request,
    if_match: IfMatchHeader = None,
) -> Response:
    condition = IfMatch.from_header(if_match)
    keyed = await idempotent_request(request)
    moved = await tasks.write_once(keyed, current_task, tasks.move, task_id, body, condition)
    return moved.to_response()
