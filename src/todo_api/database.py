"""Engine construction, the UTC timestamp column type, and the per-request transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from todo_api.settings import Settings

log = structlog.get_logger(__name__)

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


def is_pooled_host(url: URL) -> bool:
    """Neon's pooled endpoints (`-pooler` in the host) run PgBouncer in transaction mode."""
    return "-pooler" in (url.host or "")


def create_engine(settings: Settings, url: URL | None = None) -> AsyncEngine:
    url = url or settings.sqlalchemy_url
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, settings)
    return _create_postgres_engine(url, settings)


def _create_postgres_engine(url: URL, settings: Settings) -> AsyncEngine:
    pooled = is_pooled_host(url)
    prepared = settings.db_prepared_statements
    if prepared is None:
        prepared = not pooled
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, round(settings.db_connect_timeout_seconds)),
        "application_name": "todo-api",
        # PgBouncer in transaction mode loses server-side prepared statements between
        # transactions, so psycopg must not prepare there.
        "prepare_threshold": 5 if prepared else None,
    }
    if not pooled:
        # PgBouncer rejects unknown startup parameters, so the timeout is only set directly.
        statement_ms = int(settings.db_statement_timeout_seconds * 1000)
        connect_args["options"] = f"-c statement_timeout={statement_ms}"
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


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

    return engine


async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    async with engine.begin() as connection:
        yield connection


async def database_answers(engine: AsyncEngine, within_seconds: float) -> bool:
    try:
        async with asyncio.timeout(within_seconds), engine.connect() as connection:
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
            async with asyncio.timeout(settings.db_connect_timeout_seconds + 1):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
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
