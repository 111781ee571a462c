"""The `/lists` routes: read typed inputs, call one service method, return its result."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from todo_api.errors import idempotency_problem_responses, problem_responses
from todo_api.idempotency.keys import idempotent_request
from todo_api.lists.dependencies import ListServiceDep
from todo_api.lists.responses import created_list, current_list
from todo_api.lists.schemas import ListCreate, ListPage, ListRead, ListRename
from todo_api.tasks.conditions import IfMatch, names_current
from todo_api.tasks.routes import IDEMPOTENT, REPLAYED_HEADER

router = APIRouter(prefix="/lists", tags=["lists"])

_COMMON = (401, 429, 503)
_BODY = (400, 413, 415, 422)
_ONE_LIST = (403, 404, 422)

ListId = Annotated[
    uuid.UUID,
    Path(description="The list's id (a UUID).", examples=["5f0c2a8e-9b1d-4c3e-8a7f-6d5e4c3b2a19"]),
]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            "Apply the change only if the list's current ETag is one of these (strong "
            "comparison), or if it exists at all for `*`. Otherwise 412, and nothing changes."
        ),
        examples=['"43"'],
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="Answer 304 with no body when the list's current ETag is one of these.",
        examples=['"43"'],
    ),
]
_ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The list's current entity tag, equal to its `etag` field.",
    }
}
_WITH_ETAG = {"description": "The list.", "headers": _ETAG_HEADER}


def _conflict(description: str) -> dict[int | str, dict[str, object]]:
    return {409: {**problem_responses(409)[409], "description": description}}


_LIST_DESCRIPTIONS = {
    403: "The list belongs to another user.",
    404: "No such list.",
    412: "If-Match does not name the list's current ETag; nothing was changed.",
}


def _list_problems(*statuses: int) -> dict[int | str, dict[str, object]]:
    responses = problem_responses(*statuses)
    for status_code, description in _LIST_DESCRIPTIONS.items():
        if status_code in responses:
            responses[status_code] = {**responses[status_code], "description": description}
    return responses


@router.get(
    "",
    response_model=ListPage,
    summary="List your task lists",
    description="Every list of yours: the default list first, then by name (code point order).",
    responses=problem_responses(*_COMMON),
)
async def list_lists(lists: ListServiceDep) -> ListPage:
    return ListPage(items=await lists.all())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ListRead,
    openapi_extra=IDEMPOTENT,
    summary="Create a task list",
    responses={
        201: {
            "description": "The new list.",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The new list's URL."},
                **_ETAG_HEADER,
                **REPLAYED_HEADER,
            },
        },
        **problem_responses(*_COMMON, *_BODY),
        **idempotency_problem_responses(),
        **_conflict(
            "You already have a list with this name (ignoring case), or 200 lists already; "
            "or a request with the same Idempotency-Key is still running."
        ),
    },
)
async def create_list(data: ListCreate, lists: ListServiceDep, request: Request) -> Response:
    keyed = await idempotent_request(request)
    return (await lists.write_once(keyed, created_list, lists.create, data)).to_response()


@router.get(
    "/{list_id}",
    response_model=ListRead,
    summary="Read a task list",
    responses={
        200: _WITH_ETAG,
        304: {
            "description": "Not modified: If-None-Match names the list's current ETag. No body.",
            "headers": _ETAG_HEADER,
        },
        **_list_problems(*_COMMON, *_ONE_LIST),
    },
)
async def get_list(
    list_id: ListId, lists: ListServiceDep, if_none_match: IfNoneMatchHeader = None
) -> Response:
    read = await lists.get(list_id)
    if names_current(if_none_match, read.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": read.etag})
    return current_list(read).to_response()


@router.patch(
    "/{list_id}",
    response_model=ListRead,
    summary="Rename a task list",
    responses={
        200: _WITH_ETAG,
        **_list_problems(*_COMMON, *_BODY, *_ONE_LIST, 412),
        **_conflict("You already have another list with this name (ignoring case)."),
    },
)
async def rename_list(
    list_id: ListId, data: ListRename, lists: ListServiceDep, if_match: IfMatchHeader = None
) -> Response:
    renamed = await lists.rename(list_id, data, IfMatch.from_header(if_match))
    return current_list(renamed).to_response()


@router.delete(
    "/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a task list and every task in it",
    description=(
        "Each of the list's tasks is deleted too, and reported as a deletion by "
        "`/tasks/changes`. The default list cannot be deleted (409)."
    ),
    responses={
        **_list_problems(*_COMMON, *_ONE_LIST, 412),
        **_conflict("The default list cannot be deleted."),
    },
)
async def delete_list(
    list_id: ListId, lists: ListServiceDep, if_match: IfMatchHeader = None
) -> Response:
    await lists.delete(list_id, IfMatch.from_header(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
