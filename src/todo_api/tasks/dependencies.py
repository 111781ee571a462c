"""`TaskServiceDep`: the caller's tasks, for every `/tasks` and `/tags` route."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from todo_api.auth.dependencies import CurrentUser
from todo_api.connections import RequestConnectionDep
from todo_api.idempotency.service import IdempotencyService
from todo_api.lists.repository import ListRepository
from todo_api.lists.service import ListService
from todo_api.state import resources_of
from todo_api.tasks.repository import TaskRepository
from todo_api.tasks.service import TaskService

# Requests that change nothing: their statements run again if the connection is lost.
_READS = frozenset({"GET", "HEAD"})


async def task_service(
    request: Request, user: CurrentUser, connection: RequestConnectionDep
) -> TaskService:
    """The authenticated, rate-limited caller's tasks, on the request's connection. A GET or
    HEAD may repeat any of its statements after a lost connection; a write repeats only what
    its own protection makes safe (see tasks/service.py)."""
    settings = resources_of(request).settings
    ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    tasks = TaskRepository(connection, user.subject)
    keys = IdempotencyService(connection, user.subject, ttl)
    return TaskService(
        tasks,
        keys,
        ListService(ListRepository(connection, user.subject), tasks, keys),
        tokens=resources_of(request).opaque_tokens,
        keep_days=settings.sync_tombstone_days,
        safe_to_repeat=request.method in _READS,
    )


# scope="function", as the connection it holds.
TaskServiceDep = Annotated[TaskService, Depends(task_service, scope="function")]
