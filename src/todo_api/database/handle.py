"""`Database`: the app's connections, each within the request deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database.engine import create_engine
from todo_api.database.resilience import (
    BACKSTOP_GRACE_SECONDS,
    as_app_error,
    request_deadline,
    unavailable,
)
from todo_api.database.statements import in_transaction
from todo_api.errors import DatabaseUnavailableError
from todo_api.settings import Settings

log = structlog.get_logger(__name__)


class Database:
    """The app's connections: `connect()` for autocommit work, `transaction()` for atomic
    multi-statement work, both within the request deadline (see the module docstring)."""

    def __init__(
        self, settings: Settings, url: URL | None = None, *, for_migrations: bool = False
    ) -> None:
        self.settings = settings
        self.engine = create_engine(settings, url, for_migrations=for_migrations)

    @asynccontextmanager
    async def connect(self, within_seconds: float | None = None) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit, returned to the pool when the block ends."""
        if within_seconds is None:
            within_seconds = self.settings.db_request_timeout_seconds
        deadline = asyncio.get_running_loop().time() + within_seconds
        token = request_deadline.set(deadline)
        backstop = asyncio.timeout_at(deadline + BACKSTOP_GRACE_SECONDS)
        try:
            async with backstop, self.engine.connect() as connection:
                yield connection
        except TimeoutError as error:
            if not backstop.expired():
                raise
            raise unavailable(error) from error
        except Exception as error:
            answer = as_app_error(error)
            if answer is None:
                raise
            raise answer from error
        finally:
            request_deadline.reset(token)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back if it
        raises. The connection is back in autocommit when it returns to the pool."""
        async with self.connect() as connection, in_transaction(connection):
            yield connection

    async def answers(self, within_seconds: float) -> bool:
        try:
            async with self.connect(within_seconds) as connection:
                await connection.execute(text("SELECT 1"))
        except DatabaseUnavailableError:
            return False
        return True

    async def wait_until_answering(self) -> None:
        """Wait out a cold database (a suspended Neon compute takes a moment to wake)."""
        settings = self.settings
        deadline = time.monotonic() + settings.db_startup_wait_seconds
        within = settings.db_connect_timeout_seconds + settings.db_request_timeout_seconds
        delay = 0.25
        attempt = 1
        while True:
            try:
                async with self.connect(within) as connection:
                    await connection.execute(text("SELECT 1"))
                if attempt > 1:
                    log.info("database answers", attempts=attempt)
                return
            except DatabaseUnavailableError as error:
                reason = type(error.__cause__).__name__
                if time.monotonic() + delay > deadline:
                    log.error("database unreachable, giving up", attempts=attempt, error=reason)
                    raise
                log.warning(
                    "database not answering yet, retrying",
                    attempt=attempt,
                    retry_in_seconds=delay,
                    error=reason,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                attempt += 1

    async def dispose(self) -> None:
        await self.engine.dispose()
