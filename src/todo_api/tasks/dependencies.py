"""`TaskRepositoryDep`: the caller's tasks, for every `/tasks` route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from todo_api.auth.dependencies import CurrentUser
from todo_api.state import resources_of
from todo_api.tasks.repository import TaskRepository


async def task_repository(request: Request, user: CurrentUser) -> AsyncIterator[TaskRepository]:
    """The authenticated, rate-limited caller's tasks on an autocommit connection, returned
    to the pool once the route is done."""
    async with resources_of(request).database.connect() as connection:
        yield TaskRepository(connection, user.subject)


# scope="function": the connection goes back to the pool when the route function returns,
# not after the response has been sent.
TaskRepositoryDep = Annotated[TaskRepository, Depends(task_repository, scope="function")]
