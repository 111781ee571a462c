"""What keeps a request's database work bounded and its failures truthful: the deadline
watchdog and idle ping (pool hooks), and which errors mean that the database is unavailable."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from contextvars import ContextVar
from typing import Any

import psycopg
import structlog
from sqlalchemy import event
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from todo_api.errors import DatabaseUnavailableError

log = structlog.get_logger(__name__)

# The loop time by which the current request's database work must be done, set by
# `Database.connect()`; the pool's checkout hook reads it (SQLAlchemy runs pool events in
# the request's context).
request_deadline: ContextVar[float | None] = ContextVar("todo_api_database_deadline", default=None)
_WATCHDOG = "todo_api_watchdog"
_IDLE_SINCE = "todo_api_idle_since"
# The asyncio timeout around the database work fires this much after the watchdog, so the
# watchdog's clean failure wins whenever a socket exists.
BACKSTOP_GRACE_SECONDS = 0.5


def install_pool_hooks(engine: AsyncEngine, ping_after_idle_seconds: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        deadline = request_deadline.get()
        if deadline is not None:
            _disarm(record)
            loop = asyncio.get_running_loop()
            record.info[_WATCHDOG] = loop.call_at(
                deadline, _sever, dbapi_connection.driver_connection
            )
        # Popped, so a connection that replaces a dead one is not pinged again.
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since <= ping_after_idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and retries the checkout with a new one, so
            # a restarted database or a pooler that dropped idle clients costs no error.
            raise DisconnectionError("idle connection failed its ping") from error

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        _disarm(record)
        record.info[_IDLE_SINCE] = time.monotonic()


def _disarm(record: ConnectionPoolEntry) -> None:
    watchdog: asyncio.TimerHandle | None = record.info.pop(_WATCHDOG, None)
    if watchdog is not None:
        watchdog.cancel()


def _sever(connection: psycopg.AsyncConnection[Any]) -> None:
    """Shut the socket of a connection whose request ran out of time.

    Cancelling psycopg mid-query instead makes it ask the server to cancel and wait for the
    answer, up to ten seconds on a blackholed network. A shut socket fails the pending read
    at once with OperationalError, which SQLAlchemy treats as a disconnect: the connection
    is invalidated, never returned to the pool for reuse, and the pool's older connections
    are replaced on their next checkout.
    """
    try:
        descriptor = connection.pgconn.socket
        with socket.socket(fileno=os.dup(descriptor)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        return
    log.warning("database work overran its deadline; connection closed")


# What "the database cannot be reached" looks like through SQLAlchemy: refused or cut
# connections, the pool's own timeout, a ping that kept failing.
_UNREACHABLE = (PoolTimeoutError, DisconnectionError, OSError)
# SQLite reports mistakes in SQL (a missing table) as OperationalError too: only these
# result codes mean that the database cannot serve right now.
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNREACHABLE):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    sqlite_code = getattr(error.orig, "sqlite_errorname", None)
    return sqlite_code is None or sqlite_code.startswith(_SQLITE_UNAVAILABLE)


def unavailable(error: BaseException) -> DatabaseUnavailableError:
    # Only the class name is logged: driver messages can carry SQL and connection details.
    log.warning("database unavailable", error=type(error).__name__)
    return DatabaseUnavailableError()
