"""The baseline's connections: psycopg 3 async, opened on demand and kept, no framework pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

STATEMENT_TIMEOUT_MS = 8000


class ConnectionPool:
    """At most `max_size` connections, opened on demand and kept: no framework pool."""

    def __init__(self, conninfo: str, max_size: int) -> None:
        self._conninfo = conninfo
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[AsyncConnection[Any]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
                if healthy:
                    self._idle.append(conn)
                else:
                    await conn.close()

    async def _connect(self) -> AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            prepare_threshold=5,
            # Each statement is its own transaction, as in the service.
            autocommit=True,
            connect_timeout=5,
            application_name="todo-bench-baseline",
            # The service converts timestamps to UTC in Python; here the session does it.
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c timezone=UTC",
        )

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()
