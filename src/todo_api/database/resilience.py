"""What keeps a request's database work bounded and its failures truthful: the deadline
watchdog and idle ping (pool hooks), and what each database error means, by SQLSTATE on
PostgreSQL: a conflict worth running again, the database unavailable (503), or a bug."""

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

from todo_api.errors import DatabaseContentionError, DatabaseUnavailableError

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
                deadline, sever, dbapi_connection.driver_connection
            )
        # Popped, so a connection that replaces a dead one is not pinged again.
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since <= ping_after_idle_seconds:
            return
        # `Dialect.do_ping` and `Dialect.loaded_dbapi` are the dialect's documented interface
        # (what `pool_pre_ping` calls); pre-ping itself would cost a round trip per checkout.
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


def sever(connection: psycopg.AsyncConnection[Any]) -> None:
    """Shut the socket of a connection whose request (or ping) ran out of time.

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

# A serialization failure and a deadlock: PostgreSQL rolled the transaction back because it
# lost to a concurrent one, so nothing of it was applied and it may run again from its start.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL answers that say it cannot serve now, not that the request is wrong (prefixes):
# connection exceptions (08), insufficient resources (53: too many connections, out of
# memory, disk full), shutdowns and restarts (57P01-57P05), system and I/O errors (58), a
# statement cancelled by its timeout (57014), a lock not granted in time (55P03), and a
# write refused by a read-only server (25006: a failover in progress).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "58", "57014", "55P03", "25006")


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the database answered with (psycopg's `sqlstate`); None on SQLite, and
    when no answer came (a refused or cut connection)."""
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return code if isinstance(code, str) else None


def is_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction was rolled back, whole."""
    return sqlstate(error) in CONFLICT_SQLSTATES


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNREACHABLE):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = sqlstate(error)
    if code is not None:
        return code.startswith(_UNAVAILABLE_SQLSTATES)
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    sqlite_code = getattr(error.orig, "sqlite_errorname", None)
    return sqlite_code is None or sqlite_code.startswith(_SQLITE_UNAVAILABLE)


def as_app_error(error: BaseException) -> DatabaseUnavailableError | None:
    """The answer for a database error that is not the request's fault: 503 when the
    database cannot serve now, or when a transaction lost to a concurrent one even after
    running again; None for any other error, a bug, which propagates (500)."""
    if is_conflict(error):
        # Only the class and the SQLSTATE are logged: driver messages can carry SQL.
        log.warning("database conflict persisted", sqlstate=sqlstate(error))
        return DatabaseContentionError()
    if is_unavailable(error):
        return unavailable(error)
    return None


def unavailable(error: BaseException) -> DatabaseUnavailableError:
    # Only the class name and the SQLSTATE are logged: driver messages can carry SQL and
    # connection details.
    log.warning("database unavailable", error=type(error).__name__, sqlstate=sqlstate(error))
    return DatabaseUnavailableError()
