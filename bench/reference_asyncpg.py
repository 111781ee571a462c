"""The second reference: bench/baseline.py's app on asyncpg, one statement per request.

The psycopg baseline shows what the framework costs; this one shows what the whole stack
costs, on the fastest PostgreSQL driver for asyncio. It *is* the baseline's ASGI app (the same
routing, validation, PyJWT verification, orjson bodies and SQL text), with the database
calls going to asyncpg instead:

- asyncpg's own pool (up to BASELINE_POOL_SIZE connections, default 20, opened on demand and
  kept, as the baseline's);
- every statement prepared once per connection (asyncpg's statement cache) and then sent as
  one Bind/Execute/Sync round trip;
- no BEGIN/COMMIT: each statement runs on its own in autocommit, and the pool sends nothing
  when a connection goes back (asyncpg's default sends a reset query: a second round trip).

The baseline's statements are written for psycopg (`%(name)s` placeholders); they are
translated once each to asyncpg's `$n` form, so both references always send the same SQL.
UUIDs are exchanged as text: asyncpg's own UUID type is not one orjson can render, and
converting in Python per value would charge this reference for a cost psycopg does not have.

Run: uvicorn reference_asyncpg:app --app-dir bench --no-access-log --no-server-header
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from baseline import Baseline
from baseline_pool import STATEMENT_TIMEOUT_MS
from baseline_requests import Receive, Send

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@functools.lru_cache(maxsize=256)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """psycopg's named placeholders as asyncpg's numbered ones, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


class Rows:
    def __init__(self, rows: list[asyncpg.Record]) -> None:
        self._rows = rows

    async def fetchall(self) -> list[asyncpg.Record]:
        return self._rows

    async def fetchone(self) -> asyncpg.Record | None:
        return self._rows[0] if self._rows else None


class Connection:
    """The calls the baseline makes on a psycopg connection, on an asyncpg one."""

    def __init__(self, connection: asyncpg.pool.PoolConnectionProxy) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: dict[str, Any]) -> Rows:
        text, names = positional(sql)
        return Rows(await self._connection.fetch(text, *[params[name] for name in names]))


async def _uuid_as_text(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "uuid", schema="pg_catalog", encoder=str, decoder=str, format="text"
    )


async def _keep_as_is(_connection: asyncpg.Connection) -> None:
    """Nothing to undo: requests leave no session state (no transactions, no SET)."""


class AsyncpgReference(Baseline):
    def __init__(self) -> None:
        super().__init__()
        self.asyncpg_pool: asyncpg.Pool | None = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.secret = os.environ["JWT_SECRET"]
                self.asyncpg_pool = await asyncpg.create_pool(
                    os.environ["DATABASE_URL"],
                    min_size=0,
                    max_size=int(os.environ.get("BASELINE_POOL_SIZE", "20")),
                    max_inactive_connection_lifetime=0,
                    init=_uuid_as_text,
                    reset=_keep_as_is,
                    server_settings={
                        "application_name": "todo-bench-asyncpg",
                        "statement_timeout": str(STATEMENT_TIMEOUT_MS),
                        "timezone": "UTC",
                    },
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.asyncpg_pool is not None:
                    await self.asyncpg_pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        # Outside a transaction asyncpg runs each statement on its own (autocommit).
        assert self.asyncpg_pool is not None
        async with self.asyncpg_pool.acquire() as connection:
            yield Connection(connection)


app = AsyncpgReference()
