"""The `/tags` route: the caller's tags with their counts."""

from __future__ import annotations

from fastapi import APIRouter

from todo_api.errors import problem_responses
from todo_api.tasks.dependencies import TaskServiceDep
from todo_api.tasks.tags import TagList

_COMMON = (401, 429, 503)

tags_router = APIRouter(prefix="/tags", tags=["tags"])


@tags_router.get(
    "",
    response_model=TagList,
    summary="List your tags with the number of tasks that carry each",
    responses=problem_responses(*_COMMON),
)
async def list_tags(tasks: TaskServiceDep) -> TagList:
    return TagList(items=await tasks.tag_counts())
