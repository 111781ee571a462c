"""Engine construction, the UTC timestamp column type, and the per-request transaction."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import structlog
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn
from sqlmodel import SQLModel

from todo_api.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Stable constraint and index names, so migrations generated on either database agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both PostgreSQL and SQLite.

    SQLite has no time zone type and hands back naive values; they are stored as UTC and
    re-labelled on the way out, so callers only ever see aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        # PostgreSQL's driver already returns aware datetimes, so one plain function call
        # per value does it: TypeDecorator's generic wrapper costs two frames per value, and
        # a page of 50 tasks reads 150 timestamps. SQLite keeps the generic path, which also
        # runs the string-to-datetime processor of the underlying type.
        if dialect.name == "sqlite":
            return super().result_processor(dialect, coltype)
        return _aware_to_utc


def _aware_to_utc(value: datetime | None) -> datetime | None:
    # Direct connections run their sessions in UTC (postgres_connect_args); through a
    # pooler the server's own time zone applies and the value is converted.
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def is_pooled_host(url: URL) -> bool:
    """Neon's pooled endpoints (`-pooler` in the host) run PgBouncer in transaction mode."""
    return "-pooler" in (url.host or "")


def uses_transaction_pooler(url: URL, settings: Settings) -> bool:
    if settings.db_pooled is not None:
        return settings.db_pooled
    # Turning prepared statements off is what one does for a pooler, so the startup
    # `options` that PgBouncer refuses are left out too.
    return is_pooled_host(url) or settings.db_prepared_statements is False


def create_engine(
    settings: Settings, url: URL | None = None, *, for_migrations: bool = False
) -> AsyncEngine:
    url = url or settings.sqlalchemy_url
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, settings)
    if for_migrations:
        # An index build on a big table may take minutes: the request-sized statement
        # timeout is for the app only.
        settings = settings.model_copy(update={"db_statement_timeout_seconds": None})
    return _create_postgres_engine(url, settings)


def postgres_connect_args(url: URL, settings: Settings) -> dict[str, Any]:
    """libpq/psycopg parameters; anything the URL already sets wins, except `options`."""
    pooled = uses_transaction_pooler(url, settings)
    prepared = settings.db_prepared_statements
    if prepared is None:
        prepared = not pooled
    defaults: dict[str, Any] = {
        # libpq treats values below 2 as 2.
        "connect_timeout": max(2, round(settings.db_connect_timeout_seconds)),
        "application_name": "todo-api",
        # Keepalives find a peer that vanished while the connection idled in the pool;
        # tcp_user_timeout drops one whose sent data goes unacknowledged.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": round(max(settings.db_request_timeout_seconds, 10) * 1000),
    }
    connect_args = {key: value for key, value in defaults.items() if key not in url.query}
    # PgBouncer in transaction mode loses server-side prepared statements between
    # transactions, so psycopg must not prepare there.
    connect_args["prepare_threshold"] = 5 if prepared else None
    if not pooled:
        # PgBouncer rejects unknown startup parameters, so these are only set directly.
        # Neon may already use `options` (endpoint=...) in the URL: append, do not replace.
        # A UTC session hands timestamps over already in UTC, with nothing to convert.
        session = ["-c timezone=UTC"]
        if settings.db_statement_timeout_seconds is not None:
            statement_ms = int(settings.db_statement_timeout_seconds * 1000)
            session.append(f"-c statement_timeout={statement_ms}")
        given = url.query.get("options")
        given_text = " ".join(given) if isinstance(given, tuple) else (given or "")
        connect_args["options"] = " ".join([given_text, *session]).strip()
    return connect_args


def _create_postgres_engine(url: URL, settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        # Liveness is checked by `_checkout` only for connections that idled a while:
        # SQLAlchemy's pre-ping would add a round trip to every request.
        pool_pre_ping=False,
        connect_args=postgres_connect_args(url, settings),
    )
    _install_watchdog(engine)
    return engine


# The loop time by which the current request's database work must be done. The pool's
# checkout hook reads it (SQLAlchemy runs that hook with the request's context).
_deadline: ContextVar[float | None] = ContextVar("todo_api_database_deadline", default=None)
_WATCHDOG = "todo_api_watchdog"
_IDLE_SINCE = "todo_api_idle_since"
# The asyncio timeout around getting a connection fires this much after the watchdog, so
# the watchdog's clean failure wins whenever a socket exists.
_BACKSTOP_GRACE_SECONDS = 0.5


def _install_watchdog(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _arm(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        deadline = _deadline.get()
        if deadline is None:
            return
        _disarm(record)
        loop = asyncio.get_running_loop()
        record.info[_WATCHDOG] = loop.call_at(deadline, _sever, dbapi_connection.driver_connection)

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        _disarm(record)
        record.info[_IDLE_SINCE] = time.monotonic()


def _disarm(record: Any) -> None:
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


def _create_sqlite_engine(url: URL, settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers and one writer work at once; busy_timeout queues writers
        # instead of failing them with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's built-in lower() folds ASCII letters only, so the case-insensitive `q`
        # filter missed "Éclair" for "éclair"; PostgreSQL folds all of Unicode, and so
        # does this replacement.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    return engine


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _checkout(engine: Engine, ping_after_idle_seconds: float) -> Connection:
    """A pooled connection, pinged first if it idled a while.

    A connection found dead by the ping is discarded and one fresh connection is tried, so a
    restarted database or a pooler that dropped idle clients costs no request an error.
    Synchronous: it runs inside SQLAlchemy's greenlet, like the statements that follow it.
    """
    for attempt in (1, 2):
        connection = engine.connect()
        try:
            idle_since = connection.info.get(_IDLE_SINCE)
            if (
                idle_since is not None
                and time.monotonic() - idle_since > ping_after_idle_seconds
                and connection.dialect.name != "sqlite"
            ):
                connection.exec_driver_sql("SELECT 1")
        except DBAPIError as error:
            connection.close()
            if error.connection_invalidated and attempt == 1:
                continue
            raise
        except BaseException:
            connection.close()
            raise
        return connection
    raise AssertionError("unreachable")


@contextmanager
def _request_deadline(timeout_seconds: float) -> Iterator[float]:
    """Set the loop time by which this request's database work must be done.

    The checkout arms a watchdog that cuts the connection at that time, so a silent network
    fails the request with a 503 instead of hanging it.
    """
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def _run_and_commit(
    engine: Engine, ping_after_idle_seconds: float, operation: Callable[[Connection], T]
) -> T:
    # Closing returns the connection to the pool, which rolls back anything uncommitted.
    with _checkout(engine, ping_after_idle_seconds) as connection:
        result = operation(connection)
        connection.commit()
        return result


async def run_in_transaction(
    engine: AsyncEngine,
    timeout_seconds: float,
    ping_after_idle_seconds: float,
    operation: Callable[[Connection], T],
) -> T:
    """Run `operation` in one transaction, committed if it returns, within the deadline.

    Checkout, statements, commit and return to the pool all run in one SQLAlchemy greenlet:
    the async API spends a greenlet per step, about 130 us more per request.
    """
    with _request_deadline(timeout_seconds) as deadline:
        async with asyncio.timeout_at(deadline + _BACKSTOP_GRACE_SECONDS):
            return await greenlet_spawn(
                _run_and_commit, engine.sync_engine, ping_after_idle_seconds, operation
            )


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, timeout_seconds: float, ping_after_idle_seconds: float = 1.0
) -> AsyncIterator[AsyncConnection]:
    """One transaction for async code: committed when the body ends, rolled back on error.

    For routes with slow work between statements (password hashing); the same deadline as
    `run_in_transaction` bounds it.
    """
    with _request_deadline(timeout_seconds) as deadline:
        async with asyncio.timeout_at(deadline + _BACKSTOP_GRACE_SECONDS):
            sync_connection = await greenlet_spawn(
                _checkout, engine.sync_engine, ping_after_idle_seconds
            )
    connection = AsyncConnection(engine, sync_connection)
    try:
        yield connection
        await connection.commit()
    finally:
        # Returning the connection rolls back whatever was not committed.
        await connection.close()


async def database_answers(engine: AsyncEngine, within_seconds: float) -> bool:
    try:
        async with transaction(engine, within_seconds, 0) as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True


async def wait_for_database(engine: AsyncEngine, settings: Settings) -> None:
    """Wait out a cold database (a suspended Neon compute takes a moment to wake)."""
    deadline = time.monotonic() + settings.db_startup_wait_seconds
    delay = 0.25
    attempt = 1
    while True:
        try:
            within = settings.db_connect_timeout_seconds + settings.db_request_timeout_seconds
            async with transaction(engine, within, 0) as connection:
                await connection.execute(text("SELECT 1"))
            if attempt > 1:
                log.info("database answers", attempts=attempt)
            return
        except (DBAPIError, OSError, TimeoutError) as error:
            if time.monotonic() + delay > deadline:
                log.error(
                    "database unreachable, giving up", attempts=attempt, error=type(error).__name__
                )
                raise
            log.warning(
                "database not answering yet, retrying",
                attempt=attempt,
                retry_in_seconds=delay,
                error=type(error).__name__,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            attempt += 1
