"""The one way to the database: `Database.connect()` and `Database.transaction()`.

How a route reaches the database: the lifespan builds one `Database` and keeps it in the
app's `Resources`. A `/tasks` route depends on `TaskRepositoryDep` (tasks/dependencies.py):
on top of `CurrentUser` (the caller, authenticated and rate-limited) it yields a
`TaskRepository` for the caller, which enters `database.connect()` when its first statement
runs and keeps that connection until the route is done; each repository method sends one
statement, scoped by the owner. A new table gets a repository of its own, built the same
way; code outside a route opens `database.connect()`.

Autocommit is the default: every connection of the app's engine runs in autocommit, so a
single statement is its own transaction and costs one round trip, with no BEGIN or COMMIT.
Work that needs several statements to be atomic opens a transaction instead:

    async with database.transaction() as connection:
        ...  # BEGIN before the first statement; COMMIT at the end, ROLLBACK on error

(on SQLite it begins with BEGIN IMMEDIATE, so a read then a write holds the write lock
throughout). Prefer folding several steps into one statement (a CTE on PostgreSQL).

Both bound the request's database work by `db_request_timeout_seconds`, through two
pool-event hooks installed on PostgreSQL engines: on checkout a watchdog is armed that shuts
the connection's socket at the deadline, and a connection that idled longer than
`db_ping_after_idle_seconds` is pinged first, a dead one replaced by a fresh connection.
A database that cannot be reached (refused, cut, timed out, pool exhausted) leaves both as
one error, `DatabaseUnavailableError` (503 with Retry-After); any other database error is a
bug and propagates as itself. Before that, `execute(..., safe_to_repeat=True)` runs a
statement whose connection was lost under it once more on a fresh connection: reads, and
writes that a second run cannot apply twice. `fetch_all` does the same and returns the rows;
every statement goes through SQLAlchemy's `connection.execute`, so its events, disconnect
handling and type processing see them all.

Every statement runs in UTC and under `db_statement_timeout_seconds`: set at session start
(the startup `options`) on direct connections, and in front of each statement, for its
transaction only, through a transaction pooler (`_settings_cursor`): declared (DB_POOLED, a
Neon `-pooler` host) or found on connect (`_install_pooler_detection`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any, Self, TypeVar

import psycopg
import structlog
from psycopg.abc import Params, Query
from sqlalchemy import DateTime, Executable, event, text
from sqlalchemy.engine import URL, CursorResult, Dialect, Row
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from todo_api.errors import DatabaseUnavailableError
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


def is_pooled_host(url: URL) -> bool:
    """Neon's pooled endpoints (`-pooler` in the host) run PgBouncer in transaction mode."""
    return "-pooler" in (url.host or "")


def uses_transaction_pooler(url: URL, settings: Settings) -> bool:
    """What the settings and the URL say; a pooler nobody declared is found on connect
    (`_install_pooler_detection`)."""
    if settings.db_pooled is not None:
        return settings.db_pooled
    # Turning prepared statements off is what one does for a pooler, so the startup
    # `options` that PgBouncer refuses are left out too.
    return is_pooled_host(url) or settings.db_prepared_statements is False


def create_engine(
    settings: Settings, url: URL | None = None, *, for_migrations: bool = False
) -> AsyncEngine:
    """The engine behind `Database`: autocommit connections, except for migrations."""
    url = url or settings.sqlalchemy_url
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    if not for_migrations:
        # A statement is its own transaction: one round trip instead of BEGIN, the
        # statement and COMMIT. `Database.transaction()` switches a connection back.
        options["isolation_level"] = "AUTOCOMMIT"
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, options)
    if for_migrations:
        # An index build on a big table may take minutes: the request-sized statement
        # timeout is for the app only.
        settings = settings.model_copy(update={"db_statement_timeout_seconds": None})
    connect_args = postgres_connect_args(url, settings, for_migrations=for_migrations)
    engine = create_async_engine(
        url,
        pool_recycle=settings.db_pool_recycle_seconds,
        # Liveness is checked by the checkout hook, only for connections that idled a
        # while: SQLAlchemy's pre-ping would add a round trip to every request.
        pool_pre_ping=False,
        connect_args=connect_args,
        **options,
    )
    _install_pool_hooks(engine, settings.db_ping_after_idle_seconds)
    if "options" in connect_args and settings.db_pooled is None:
        pooled_args = postgres_connect_args(
            url, settings.model_copy(update={"db_pooled": True}), for_migrations=for_migrations
        )
        _install_pooler_detection(engine, url, pooled_args)
    return engine


def session_settings(settings: Settings) -> dict[str, str]:
    """What the app's statements run under on PostgreSQL, pooled or not."""
    # UTC: timestamps are handed over already in UTC, with nothing to convert.
    values = {"timezone": "UTC"}
    if settings.db_statement_timeout_seconds is not None:
        statement_ms = int(settings.db_statement_timeout_seconds * 1000)
        values["statement_timeout"] = str(statement_ms)
    return values


def postgres_connect_args(
    url: URL, settings: Settings, *, for_migrations: bool = False
) -> dict[str, Any]:
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
    if pooled:
        # A transaction pooler hands each transaction to any server connection, so the
        # session settings travel with every statement instead (see _settings_cursor).
        # Migrations go without: they have no statement timeout, their DDL reads no time
        # zone, and some DDL (CREATE INDEX CONCURRENTLY) cannot run in a transaction block.
        if not for_migrations:
            connect_args["cursor_factory"] = _settings_cursor(
                tuple(session_settings(settings).items())
            )
        return connect_args
    # Neon may already use `options` (endpoint=...) in the URL: append, do not replace.
    session = [f"-c {name}={value}" for name, value in session_settings(settings).items()]
    given = url.query.get("options")
    given_text = " ".join(given) if isinstance(given, tuple) else (given or "")
    connect_args["options"] = " ".join([given_text, *session]).strip()
    return connect_args


@cache
def _settings_cursor(values: tuple[tuple[str, str], ...]) -> type[psycopg.AsyncClientCursor[Any]]:
    """A cursor whose every statement runs under `values`, set for its transaction only.

    The settings ride in front of the statement in the same simple-protocol message,
    `SET LOCAL timezone = 'UTC'; SET LOCAL statement_timeout = '5000'; <statement>`: one
    round trip, as on a direct connection. PostgreSQL runs such a message as one implicit
    transaction (or inside the open one), so nothing outlives it on the shared server
    connection, and since PostgreSQL 13 the statement timeout applies to each statement of
    the message separately. Parameters are bound client-side by psycopg (the simple
    protocol carries none), which a transaction pooler needs anyway: no prepared statements.
    """
    prefix = "".join(f"SET LOCAL {name} = '{value}'; " for name, value in values)

    class SettingsCursor(psycopg.AsyncClientCursor[Any]):
        async def execute(
            self,
            query: Query,
            params: Params | None = None,
            *,
            prepare: bool | None = None,
            binary: bool | None = None,
        ) -> Self:
            # SQLAlchemy hands over SQL text; anything else would run without the settings.
            if not isinstance(query, str):
                raise TypeError("SQL text expected")
            await super().execute(prefix + query, params, prepare=prepare, binary=binary)
            # The results of the SETs come first: move on to the statement's own.
            while self.nextset():
                pass
            return self

    return SettingsCursor


# What transaction poolers answer when a client sends the startup `options`: PgBouncer
# ("unsupported startup parameter: options", or "... in options: statement_timeout" from
# 1.20 on) and RDS Proxy ("... doesn't support command-line options").
_REFUSED_OPTIONS = ("unsupported startup parameter", "command-line options")
# Endpoints found to be poolers in this process, so that the next engine (the app's, after
# `serve` migrated) starts pooled: one log line and one refused handshake per process.
_FOUND_POOLERS: set[str] = set()


def _install_pooler_detection(engine: AsyncEngine, url: URL, pooled_args: dict[str, Any]) -> None:
    """Make an undeclared transaction pooler work: connect without the startup `options`
    when the endpoint refuses them, or ignored them (the time zone asked for did not
    take), and from then on connect with `pooled_args`."""
    endpoint = url.set(password=None).render_as_string()

    def become_pooled(cparams: dict[str, Any], how: str) -> None:
        # The same dictionary serves every later connection of this engine.
        cparams.pop("options", None)
        cparams.update(pooled_args)
        if endpoint in _FOUND_POOLERS:
            return
        _FOUND_POOLERS.add(endpoint)
        log.warning(
            f"the database endpoint {how} the startup parameter `options`: treating it as a "
            "transaction pooler (no prepared statements; time zone and statement timeout set "
            "per transaction). Set DB_POOLED=true to declare it and skip this check.",
            host=url.host,
            port=url.port,
        )

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(
        dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        if "options" not in cparams:
            return None
        if endpoint in _FOUND_POOLERS:
            become_pooled(cparams, "refused")
            return None
        try:
            connection = dialect.connect(*cargs, **cparams)
        except psycopg.OperationalError as error:
            if not any(sign in str(error) for sign in _REFUSED_OPTIONS):
                raise
            become_pooled(cparams, "refused")
            return None
        driver: psycopg.AsyncConnection[Any] = connection.driver_connection
        # The server reports its time zone at startup: not UTC means that something in
        # between dropped the `options` (PgBouncer's ignore_startup_parameters, say). Free.
        if driver.info.parameter_status("TimeZone") == "UTC":
            return connection
        become_pooled(cparams, "ignored")
        driver.prepare_threshold = None
        if "cursor_factory" in pooled_args:
            driver.cursor_factory = pooled_args["cursor_factory"]
        return connection


# The loop time by which the current request's database work must be done, set by
# `Database.connect()`; the pool's checkout hook reads it (SQLAlchemy runs pool events in
# the request's context).
_deadline: ContextVar[float | None] = ContextVar("todo_api_database_deadline", default=None)
_WATCHDOG = "todo_api_watchdog"
_IDLE_SINCE = "todo_api_idle_since"
# The asyncio timeout around the database work fires this much after the watchdog, so the
# watchdog's clean failure wins whenever a socket exists.
_BACKSTOP_GRACE_SECONDS = 0.5


def _install_pool_hooks(engine: AsyncEngine, ping_after_idle_seconds: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        deadline = _deadline.get()
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


def _create_sqlite_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, **options)

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


# What "the database cannot be reached" looks like through SQLAlchemy: refused or cut
# connections, the pool's own timeout, a ping that kept failing.
_UNREACHABLE = (PoolTimeoutError, DisconnectionError, OSError)
# SQLite reports mistakes in SQL (a missing table) as OperationalError too: only these
# result codes mean that the database cannot serve right now.
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")


def _unreachable(error: BaseException) -> bool:
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


def _unavailable(error: BaseException) -> DatabaseUnavailableError:
    # Only the class name is logged: driver messages can carry SQL and connection details.
    log.warning("database unavailable", error=type(error).__name__)
    return DatabaseUnavailableError()


@asynccontextmanager
async def in_transaction(connection: AsyncConnection) -> AsyncIterator[None]:
    """Make the block's statements on a connection of `Database.connect()` one transaction:
    committed when the block ends, rolled back if it raises; autocommit again afterwards,
    for whatever the connection runs next. Inside `Database.transaction()` the block simply
    joins the transaction already open."""
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    autocommit = options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT"
    if not autocommit and connection.in_transaction():
        yield
        return
    if connection.in_transaction():
        # In autocommit SQLAlchemy still tracks a transaction once a statement ran; ending
        # it sends nothing to the database.
        await connection.commit()
    await connection.execution_options(isolation_level=connection.dialect.default_isolation_level)
    try:
        async with connection.begin():
            if connection.dialect.name == "sqlite":
                # pysqlite would begin only before the first write; a read first must be in
                # the transaction too, with the write lock taken up front.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield
    finally:
        if not connection.invalidated:
            await connection.execution_options(isolation_level="AUTOCOMMIT")


def _in_autocommit(connection: AsyncConnection) -> bool:
    """Whether the connection runs each statement as its own transaction: the engine's
    default, which `in_transaction` leaves and then restores (explicitly, as an option)."""
    sync_connection = connection.sync_connection
    if sync_connection is None:
        return False
    options = sync_connection.get_execution_options()
    return bool(options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT")


def _lost(error: DBAPIError) -> bool:
    """The connection was lost (not refused by the database: a constraint, a statement
    timeout) and the request still has time: a connection cut by the request deadline is
    not lost, it was given up."""
    if not error.connection_invalidated:
        return False
    deadline = _deadline.get()
    return deadline is None or asyncio.get_running_loop().time() < deadline


async def _before_running_again(connection: AsyncConnection, error: DBAPIError, what: str) -> None:
    # Imported here: prometheus-client must not be imported before `serve` has set up the
    # metrics folder of its workers (see todo_api.metrics), and this module is, by Alembic.
    from todo_api.metrics import DB_STATEMENT_RETRIES

    DB_STATEMENT_RETRIES.inc()
    log.warning(
        f"database connection lost mid-{what}; running it again", error=type(error.orig).__name__
    )
    # Ends the invalidated connection's transaction; the next statement checks out a fresh
    # connection, under the same request deadline.
    await connection.rollback()


async def execute(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any] | None = None,
    *,
    safe_to_repeat: bool,
) -> CursorResult[*tuple[Any, ...]]:
    """`connection.execute`, run once more on a fresh connection if the connection is lost
    under it and the caller says the statement is `safe_to_repeat`: a read, or a write whose
    second run cannot apply it twice. An unprotected write stays one attempt: it may have
    committed before the connection went, and answers 503. Inside a transaction nothing is
    repeated per statement: the earlier statements were lost with the connection (see
    `run_in_transaction` for repeating a whole transaction)."""
    return await _repeated_if_lost(
        connection, lambda: connection.execute(statement, parameters), safe_to_repeat
    )


async def _repeated_if_lost(
    connection: AsyncConnection, run: Callable[[], Awaitable[T]], safe_to_repeat: bool
) -> T:
    try:
        return await run()
    except DBAPIError as error:
        if not (safe_to_repeat and _lost(error) and _in_autocommit(connection)):
            raise
        await _before_running_again(connection, error, "statement")
    return await run()


async def fetch_all(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any],
    *,
    safe_to_repeat: bool,
) -> list[Row[Any]]:
    """The rows of `statement`, run as `execute` runs it: once more on a fresh connection
    when the connection is lost under it and it is `safe_to_repeat`."""
    result = await execute(connection, statement, parameters, safe_to_repeat=safe_to_repeat)
    return list(result.all()) if result.returns_rows else []


async def run_in_transaction(
    connection: AsyncConnection, work: Callable[[], Awaitable[T]], *, safe_to_repeat: bool
) -> T:
    """`work` in one transaction on `connection` (`in_transaction`); if the connection is
    lost under it, the whole transaction once more on a fresh connection, provided the
    caller says it is `safe_to_repeat`: its first run either rolled back with the lost
    connection, or committed and left a trace the second run finds (an Idempotency-Key's
    stored response). Joining a transaction already open (`Database.transaction()`), it
    is never repeated: the open transaction's earlier statements are lost too."""
    repeatable = safe_to_repeat and _in_autocommit(connection)
    try:
        async with in_transaction(connection):
            return await work()
    except DBAPIError as error:
        if not (repeatable and _lost(error)):
            raise
        await _before_running_again(connection, error, "transaction")
    async with in_transaction(connection):
        return await work()


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
        token = _deadline.set(deadline)
        backstop = asyncio.timeout_at(deadline + _BACKSTOP_GRACE_SECONDS)
        try:
            async with backstop, self.engine.connect() as connection:
                yield connection
        except TimeoutError as error:
            if not backstop.expired():
                raise
            raise _unavailable(error) from error
        except Exception as error:
            if not _unreachable(error):
                raise
            raise _unavailable(error) from error
        finally:
            _deadline.reset(token)

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
