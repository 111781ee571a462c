"""Database errors by what they mean: a deadlock or serialization failure runs once more,
the database unable to serve answers 503, anything else is a bug (500); the log keeps the
SQLSTATE and never the SQL.

The conflicts are real: a second connection takes the other side of a deadlock, or commits
under a REPEATABLE READ transaction's snapshot, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.testing import capture_logs

from tests.conftest import POSTGRES_ENV, make_settings
from todo_api.database import Database, execute, run_in_transaction
from todo_api.errors import DatabaseContentionError, DatabaseUnavailableError
from todo_api.observability import redact_exception

CONFLICT_RETRIED = "database conflict rolled back the {}; running it again"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def counters_url(request: pytest.FixtureRequest) -> str:
    """A new PostgreSQL database holding two counters, (1, 0) and (2, 0)."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}")
    url: str = request.getfixturevalue("fresh_postgres_database")()
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
        connection.execute("INSERT INTO counters VALUES (1, 0), (2, 0)")
    return url


@pytest.fixture
async def database(counters_url: str) -> AsyncIterator[Database]:
    database = Database(make_settings(counters_url))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def other(counters_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A second client of the same database, outside the app, in autocommit."""
    async with await psycopg.AsyncConnection.connect(
        _libpq(counters_url), autocommit=True
    ) as connection:
        yield connection


def counters(url: str) -> list[int]:
    with psycopg.connect(_libpq(url)) as connection:
        return [n for (n,) in connection.execute("SELECT n FROM counters ORDER BY id")]


def logged(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == event]


def repeatable_read_increment(
    connection: AsyncConnection,
    other: psycopg.AsyncConnection[Any],
    conflicting_runs: int,
    runs: list[int],
) -> Callable[[], Awaitable[None]]:
    """Work that reads counter 1 in a REPEATABLE READ snapshot, lets `other` commit an
    increment of it during its first `conflicting_runs` runs, then increments it itself:
    PostgreSQL refuses that write with 40001 (could not serialize access). Each run is
    numbered in `runs`."""

    async def work() -> None:
        runs.append(len(runs) + 1)
        await connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        await connection.execute(text("SELECT n FROM counters WHERE id = 1"))
        if len(runs) <= conflicting_runs:
            await other.execute("UPDATE counters SET n = n + 100 WHERE id = 1")
        await connection.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))

    return work


async def test_a_transaction_that_fails_to_serialize_runs_once_more_from_its_start(
    database: Database, other: psycopg.AsyncConnection[Any], counters_url: str
) -> None:
    runs: list[int] = []
    with capture_logs() as logs:
        async with database.connect() as connection:
            work = repeatable_read_increment(connection, other, 1, runs)
            # Not marked safe to repeat: a conflict rolled all of it back, so it is anyway.
            await run_in_transaction(connection, work, safe_to_repeat=False)
    assert runs == [1, 2]
    assert counters(counters_url) == [101, 0]
    [line] = logged(logs, CONFLICT_RETRIED.format("transaction"))
    assert line["sqlstate"] == "40001"


async def test_a_transaction_that_fails_to_serialize_twice_answers_503_soon(
    database: Database, other: psycopg.AsyncConnection[Any], counters_url: str
) -> None:
    runs: list[int] = []

    async def increment() -> None:
        async with database.connect() as connection:
            work = repeatable_read_increment(connection, other, 2, runs)
            await run_in_transaction(connection, work, safe_to_repeat=True)

    with capture_logs() as logs, pytest.raises(DatabaseContentionError) as raised:
        await increment()
    assert runs == [1, 2]
    assert counters(counters_url) == [200, 0]
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "1"}
    [line] = logged(logs, "database conflict persisted")
    assert line["sqlstate"] == "40001"
    assert "UPDATE" not in repr(logs)


async def test_an_explicit_transaction_that_fails_to_serialize_is_not_repeated(
    database: Database, other: psycopg.AsyncConnection[Any], counters_url: str
) -> None:
    # The block of `Database.transaction()` cannot be run again: it answers 503 at once.
    runs: list[int] = []

    async def increment() -> None:
        async with database.transaction() as connection:
            work = repeatable_read_increment(connection, other, 1, runs)
            await work()

    with pytest.raises(DatabaseContentionError):
        await increment()
    assert runs == [1]
    assert counters(counters_url) == [100, 0]


async def _until_the_app_waits_on_a_lock(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(_libpq(url), autocommit=True) as watcher:
        for _ in range(250):
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'todo-api' AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
            if row and row[0] > 0:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the app's statement never waited on the row lock")


async def test_a_statement_chosen_as_a_deadlock_victim_runs_once_more(
    database: Database, counters_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(_libpq(counters_url)) as rival:
        # The rival waits ten times longer before looking for a deadlock (1 s by default),
        # so PostgreSQL finds it from the app's side and makes the app's statement the victim.
        await rival.execute("SET deadlock_timeout = '10s'")
        await rival.execute("UPDATE counters SET n = n + 10 WHERE id = 2")
        with capture_logs() as logs:
            async with database.connect() as connection:
                # Locks counter 1, then waits for the rival's lock on counter 2.
                both = execute(
                    connection,
                    text("UPDATE counters SET n = n + 1 WHERE id IN (1, 2)"),
                    safe_to_repeat=False,
                )
                statement = asyncio.create_task(both)
                await _until_the_app_waits_on_a_lock(counters_url)
                # Waits for the app's lock on counter 1: a deadlock, which PostgreSQL ends
                # by rolling the app's statement back; the rival then gets its lock.
                await rival.execute("UPDATE counters SET n = n + 10 WHERE id = 1")
                await rival.commit()
                await statement
    assert counters(counters_url) == [11, 11]
    [line] = logged(logs, CONFLICT_RETRIED.format("statement"))
    assert line["sqlstate"] == "40P01"


async def test_a_statement_past_its_timeout_answers_503_with_its_sqlstate_logged(
    database: Database,
) -> None:

    async def sleep_past_the_timeout() -> None:
        async with database.transaction() as connection:
            await connection.execute(text("SET LOCAL statement_timeout = '50ms'"))
            await connection.execute(text("SELECT pg_sleep(5)"))

    with capture_logs() as logs, pytest.raises(DatabaseUnavailableError) as raised:
        await sleep_past_the_timeout()
    assert not isinstance(raised.value, DatabaseContentionError)
    assert raised.value.headers == {"Retry-After": "5"}
    [line] = logged(logs, "database unavailable")
    assert line["sqlstate"] == "57014"
    assert "pg_sleep" not in repr(logs)


async def test_a_bug_in_sql_stays_itself_and_its_log_line_names_only_the_sqlstate(
    database: Database,
) -> None:
    with pytest.raises(DBAPIError) as raised:
        async with database.connect() as connection:
            await execute(connection, text("SELECT 1 / (n - n) FROM counters"), safe_to_repeat=True)
    line = redact_exception(None, "error", {"event": "unhandled error", "exc_info": raised.value})
    assert line["sqlstate"] == "22012"  # division_by_zero
    assert "counters" not in repr(line)


async def test_on_sqlite_a_mistake_in_sql_is_a_bug_not_an_outage(tmp_path: Path) -> None:
    database = Database(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"))
    try:
        with capture_logs() as logs, pytest.raises(DBAPIError) as raised:
            async with database.connect() as connection:
                await execute(connection, text("SELECT * FROM no_such_table"), safe_to_repeat=True)
    finally:
        await database.dispose()
    assert not isinstance(raised.value, DatabaseUnavailableError)
    assert logs == []
