"""`TaskRepositoryDep`: the caller's tasks, for every `/tasks` route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.auth.dependencies import CurrentUser
from todo_api.state import resources_of
from todo_api.tasks.repository import TaskRepository

# Requests that change nothing: their statements run again if the connection is lost.
_READS = frozenset({"GET", "HEAD"})


async def task_repository(request: Request, user: CurrentUser) -> AsyncIterator[TaskRepository]:
    """The authenticated, rate-limited caller's tasks on an autocommit connection, taken when
    the route runs its first statement (after FastAPI has validated the request) and returned
    to the pool once the route is done. A GET or HEAD may repeat any of its statements after
    a lost connection; a write repeats only what its own protection makes safe (see
    `TaskRepository`)."""
    database = resources_of(request).database
    async with AsyncExitStack() as stack:

        async def connect() -> AsyncConnection:
            return await stack.enter_async_context(database.connect())

        yield TaskRepository(
            connect,
            database.engine.dialect.name,
            user.subject,
            safe_to_repeat=request.method in _READS,
        )


# scope="function": the connection goes back to the pool when the route function returns,
# not after the response has been sent.
TaskRepositoryDep = Annotated[TaskRepository, Depends(task_repository, scope="function")]
