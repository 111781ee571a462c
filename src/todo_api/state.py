"""Resources that the application's lifespan owns, handed to requests as typed state."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from todo_api.auth.passwords import PasswordService
from todo_api.auth.tokens import TokenVerifier
from todo_api.database import run_in_transaction, transaction
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.settings import Settings

if TYPE_CHECKING:
    from todo_api.ratelimit import RateLimiter

T = TypeVar("T")


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier
    rate_limiter: RateLimiter
    opaque_tokens: OpaqueTokens
    passwords: PasswordService = field(default_factory=PasswordService)

    async def run_in_transaction(self, operation: Callable[[Connection], T]) -> T:
        """`operation` in one transaction, within the request's database deadline."""
        return await run_in_transaction(
            self.engine,
            self.settings.db_request_timeout_seconds,
            self.settings.db_ping_after_idle_seconds,
            operation,
        )

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A transaction for async code, within the request's database deadline."""
        return transaction(
            self.engine,
            self.settings.db_request_timeout_seconds,
            self.settings.db_ping_after_idle_seconds,
        )


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


# async on purpose: FastAPI would run a plain `def` dependency in its thread pool, a
# thread hop on every request for what is an attribute read.
async def get_resources(request: Request) -> Resources:
    return resources_of(request)


ResourcesDep = Annotated[Resources, Depends(get_resources)]

TransactionFactory = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


async def get_transactions(request: Request) -> TransactionFactory:
    return resources_of(request).transaction


# For routes with slow work between statements (password hashing): each short transaction
# holds a connection, and counts against the request deadline, only while it runs.
Transactions = Annotated[TransactionFactory, Depends(get_transactions)]
