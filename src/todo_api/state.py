"""Resources that the application's lifespan owns, handed to requests as typed state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from todo_api.auth.passwords import PasswordService
from todo_api.auth.tokens import TokenVerifier
from todo_api.database import transaction
from todo_api.settings import Settings

if TYPE_CHECKING:
    from todo_api.ratelimit import RateLimiter


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier
    rate_limiter: RateLimiter
    passwords: PasswordService = field(default_factory=PasswordService)


# async on purpose: FastAPI would run a plain `def` dependency in its thread pool, a
# thread hop on every request for what is an attribute read.
async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_connection(resources: ResourcesDep) -> AsyncIterator[AsyncConnection]:
    settings = resources.settings
    async for connection in transaction(
        resources.engine,
        settings.db_request_timeout_seconds,
        settings.db_ping_after_idle_seconds,
    ):
        yield connection


# scope="function" closes the transaction when the route returns, before the response is
# sent: a client never sees a 2xx for a write that then fails to commit.
DbConnection = Annotated[AsyncConnection, Depends(get_connection, scope="function")]


TransactionFactory = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


async def get_transactions(resources: ResourcesDep) -> TransactionFactory:
    settings = resources.settings

    def open_transaction() -> AbstractAsyncContextManager[AsyncConnection]:
        return asynccontextmanager(transaction)(
            resources.engine,
            settings.db_request_timeout_seconds,
            settings.db_ping_after_idle_seconds,
        )

    return open_transaction


# For routes with slow work between statements (password hashing): each short transaction
# holds a connection, and counts against the request deadline, only while it runs.
Transactions = Annotated[TransactionFactory, Depends(get_transactions)]
