"""`ListServiceDep`: the caller's lists, for every `/lists` route."""

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


async def list_service(
    request: Request, user: CurrentUser, connection: RequestConnectionDep
) -> ListService:
    """The authenticated, rate-limited caller's lists, on the request's connection."""
    ttl = timedelta(seconds=resources_of(request).settings.idempotency_key_ttl_seconds)
    return ListService(
        ListRepository(connection, user.subject),
        TaskRepository(connection, user.subject),
        IdempotencyService(connection, user.subject, ttl),
    )


# scope="function", as the connection it holds.
ListServiceDep = Annotated[ListService, Depends(list_service, scope="function")]
