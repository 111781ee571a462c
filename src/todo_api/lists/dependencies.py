"""`ListRepositoryDep`: the caller's lists, for every `/lists` route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.auth.dependencies import CurrentUser
from todo_api.lists.repository import ListRepository
from todo_api.state import resources_of


async def list_repository(request: Request, user: CurrentUser) -> AsyncIterator[ListRepository]:
    """The authenticated, rate-limited caller's lists, on a connection taken when the route
    runs its first statement and returned to the pool once the route is done."""
    database = resources_of(request).database
    async with AsyncExitStack() as stack:

        async def connect() -> AsyncConnection:
            return await stack.enter_async_context(database.connect())

        yield ListRepository(connect, database.engine.dialect.name, user.subject)


ListRepositoryDep = Annotated[ListRepository, Depends(list_repository, scope="function")]
