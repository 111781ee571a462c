"""`TaskRepositoryDep`: the caller's tasks, for every `/tasks` route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from todo_api.auth.dependencies import authenticate, bearer_token
from todo_api.ratelimit import limit_by_subject
from todo_api.state import resources_of
from todo_api.tasks.repository import TaskRepository


async def task_repository(request: Request) -> AsyncIterator[TaskRepository]:
    """Authenticate, count the request against its user's rate limit, then hand over the
    user's tasks on an autocommit connection, returned to the pool once the route is done.

    One dependency rather than a chain of them (the bearer scheme is called, not depended
    on): FastAPI spends tens of microseconds on each dependency of each request.
    """
    resources = resources_of(request)
    principal = await authenticate(request, resources.verifier, await bearer_token(request))
    await limit_by_subject(request, resources.rate_limiter, principal.subject)
    async with resources.database.connect() as connection:
        yield TaskRepository(connection, principal.subject)


# scope="function": the connection goes back to the pool when the route function returns,
# not after the response has been sent.
TaskRepositoryDep = Annotated[TaskRepository, Depends(task_repository, scope="function")]
