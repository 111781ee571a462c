"""`ChangeListener`: this instance's one PostgreSQL connection that LISTENs for changes.

Triggers on `change_counters` (migration 0009) NOTIFY the channel with a user id when a
change of that user commits, on whichever instance made it. The listener hands the ids to
the `StreamHub`, which wakes that user's streams here. Notifications are hints, delivered
only while the connection lives: after every (re)connection, every stream catches up from its
own last token, so a dropped connection, a Neon compute that scaled to zero or a PostgreSQL
restart loses nothing. A silent network is found by a ping every few seconds (and the
connection's TCP keepalives); then the listener reconnects with backoff.

A transaction pooler cannot LISTEN (each transaction may run on another server connection):
the listener connects to DATABASE_LISTEN_URL, else to DATABASE_URL with a Neon `-pooler`
host turned into its direct host (Settings.listen_url), and logs which, without password.
The LISTEN and the pings go through SQLAlchemy like every statement; psycopg's own
`notifies()` is the one way to receive what arrives between them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from todo_api.database import create_engine
from todo_api.database.resilience import sever
from todo_api.events.hub import StreamHub
from todo_api.observability import describe_database
from todo_api.settings import Settings

log = structlog.get_logger(__name__)

CHANNEL = "todo_changes"  # as migration 0009 notifies
LISTENER_APPLICATION_NAME = "todo-api-listener"
PING_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class ChangeListener:
    def __init__(self, settings: Settings, url: URL, hub: StreamHub) -> None:
        self._url = url
        self._source = (
            "DATABASE_LISTEN_URL" if settings.database_listen_url is not None else "DATABASE_URL"
        )
        self._hub = hub
        # Named apart from the request pool's `todo-api` in pg_stat_activity, unless the URL
        # names it already.
        if "application_name" not in url.query:
            url = url.update_query_dict({"application_name": LISTENER_APPLICATION_NAME})
        # A pool of one, outside the request deadline: this connection lives as long as the
        # process, and the watchdog of requests must never cut it.
        self._engine: AsyncEngine = create_engine(
            settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0}), url
        )
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        log.info(
            "live updates listen for changes",
            source=self._source,
            database=describe_database(self._url),
        )
        self._task = asyncio.create_task(self._listen_forever(), name="change-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._engine.dispose()

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                async with self._engine.connect() as connection:
                    await connection.execute(text(f"LISTEN {CHANNEL}"))
                    await connection.commit()
                    if failures:
                        log.info("live updates listener reconnected", attempts=failures + 1)
                    failures = 0
                    self.connected.set()
                    # Whatever committed while nobody listened: every stream catches up.
                    self._hub.notify_all()
                    await self._receive(connection)
            except (SQLAlchemyError, psycopg.Error, OSError, TimeoutError) as error:
                self.connected.clear()
                # The connection may be dead without SQLAlchemy knowing (psycopg's own
                # notifies() failed): start the next attempt from an empty pool.
                with contextlib.suppress(Exception):
                    await self._engine.dispose()
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning(
                    "live updates listener lost its connection; reconnecting",
                    error=type(error).__name__,
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)

    async def _receive(self, connection: AsyncConnection) -> None:
        # AsyncConnection.get_raw_connection and its driver_connection are SQLAlchemy's public
        # way to reach the driver: psycopg's own notifies() is what LISTEN needs.
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        while True:
            # Ends after PING_SECONDS; what arrives before the next call is kept by psycopg.
            async for notification in driver.notifies(timeout=PING_SECONDS):
                self._hub.notify((notification.payload,))
            # Cut, not cancelled, when it overruns (database/resilience.py says why): the
            # failed read then ends this connection at once.
            watchdog = asyncio.get_running_loop().call_later(PING_TIMEOUT_SECONDS, sever, driver)
            try:
                await connection.execute(text("SELECT 1"))
                await connection.commit()
            finally:
                watchdog.cancel()
