"""The engine: autocommit connections, PostgreSQL's connection parameters, transaction
poolers (declared, or found on connect), and SQLite's set-up."""

from __future__ import annotations

from functools import cache
from typing import Any, Self

import psycopg
import structlog
from psycopg.abc import Params, Query
from sqlalchemy import event
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from todo_api.database.resilience import install_pool_hooks
from todo_api.settings import Settings

log = structlog.get_logger(__name__)


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
    return (
        is_pooled_host(url)
        or settings.db_prepared_statements is False
        or _endpoint(url) in _FOUND_POOLERS
    )


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
    install_pool_hooks(engine, settings.db_ping_after_idle_seconds)
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


def _endpoint(url: URL) -> str:
    # The server a URL reaches, whatever the connection's own options (the listener of
    # live updates names its application_name in the query).
    return url.set(password=None, query={}).render_as_string()


def _install_pooler_detection(engine: AsyncEngine, url: URL, pooled_args: dict[str, Any]) -> None:
    """Make an undeclared transaction pooler work: connect without the startup `options`
    when the endpoint refuses them, or ignored them (the time zone asked for did not
    take), and from then on connect with `pooled_args`."""
    endpoint = _endpoint(url)

    def become_pooled(cparams: dict[str, Any], how: str) -> None:
        # SQLAlchemy hands each connection attempt its own copy of the parameters, so this
        # changes this connection only: later ones come through `_connect` again and are
        # switched there, by `_FOUND_POOLERS`.
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
        # The `do_connect` event's documented way to connect with changed parameters.
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
