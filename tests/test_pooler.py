"""A transaction pooler nobody declared: PgBouncer 1.18, TLS, transaction mode (.ci/neon-like).

The URL is a plain `127.0.0.1:6432` one, with no DB_POOLED and no `-pooler` host. PgBouncer
refuses the startup `options`; the service must connect again without them, say so once, and
still run every statement in UTC and under the statement timeout, in one round trip.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TEST_SECRET, bearer, make_settings, make_token
from tests.servers import clean_environment, run_cli, running_server
from tests.test_round_trips import DriverTrace
from todo_api.database import Database
from todo_api.errors import DatabaseUnavailableError

PGBOUNCER_ENV = "TEST_PGBOUNCER_URL"
DETECTED = "treating it as a transaction pooler"

pytestmark = pytest.mark.skipif(not os.environ.get(PGBOUNCER_ENV), reason="needs .ci/neon-like")


@pytest.fixture
async def pooled_database() -> AsyncIterator[Database]:
    settings = make_settings(os.environ[PGBOUNCER_ENV], db_statement_timeout_seconds=0.5)
    database = Database(settings)
    yield database
    await database.dispose()


async def test_statements_through_an_undeclared_pgbouncer_run_in_utc_with_the_timeout(
    pooled_database: Database,
) -> None:
    async with pooled_database.connect() as connection:
        zone = (await connection.execute(text("SHOW timezone"))).scalar_one()
        now = (await connection.execute(text("SELECT now()::text"))).scalar_one()
        timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
    assert (zone, timeout) == ("UTC", "500ms")
    assert now.endswith("+00")
    async with pooled_database.transaction() as connection:
        assert (await connection.execute(text("SHOW timezone"))).scalar_one() == "UTC"
        assert (await connection.execute(text("SHOW statement_timeout"))).scalar_one() == "500ms"


async def test_the_server_cancels_a_statement_past_the_timeout_through_pgbouncer(
    pooled_database: Database,
) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as raised:
        async with pooled_database.connect() as connection:
            await connection.execute(text("SELECT pg_sleep(3)"))
    elapsed = time.monotonic() - started
    cause = raised.value.__cause__
    assert isinstance(cause, DBAPIError)
    assert isinstance(cause.orig, psycopg.errors.QueryCanceled)
    assert elapsed < 1.5
    # The settings were the transaction's: the server connection PgBouncer hands out next
    # runs an unwrapped statement under the server's defaults.
    plain = psycopg.connect(os.environ[PGBOUNCER_ENV], autocommit=True, connect_timeout=5)
    with plain:
        assert plain.execute("SHOW statement_timeout").fetchone() == ("0",)


async def test_a_statement_through_the_pooler_is_one_round_trip_and_prepares_nothing(
    pooled_database: Database,
) -> None:
    trace = await DriverTrace.of(pooled_database.engine)
    statement = text("SELECT CAST(:n AS integer) + 1")
    # More runs than psycopg's prepare threshold: a prepared statement would fail here.
    for n in range(8):
        async with trace.observe() as observed, pooled_database.connect() as connection:
            assert (await connection.execute(statement, {"n": n})).scalar_one() == n + 1
        assert observed.round_trips == 1, observed.statements
        assert not observed.left_a_transaction_open
        assert observed.statements[0].startswith("SET LOCAL timezone = 'UTC'; ")


def test_migrate_and_serve_work_through_an_undeclared_pgbouncer(tmp_path: Path) -> None:
    env = clean_environment(
        DATABASE_URL=os.environ[PGBOUNCER_ENV], JWT_SECRET=TEST_SECRET, LOG_FORMAT="json"
    )
    migrated = run_cli(tmp_path, env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (migrated.stdout + migrated.stderr).count(DETECTED) == 1
    # `serve` in development migrates first, then serves: one line for the process.
    with running_server(tmp_path, env) as server:
        asyncio.run(crud_and_concurrent_load(server.url))
    log = server.log()
    assert log.count(DETECTED) == 1
    assert "DB_POOLED=true" in log
    assert "Traceback" not in log


async def crud_and_concurrent_load(url: str) -> None:
    headers = bearer(make_token(f"user-{uuid.uuid4().hex}"))
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        created = await http.post("/tasks", json={"title": "through pgbouncer"})
        assert created.status_code == 201, created.text
        path = f"/tasks/{created.json()['id']}"
        assert (await http.get(path)).json() == created.json()
        assert (await http.patch(path, json={"title": "renamed"})).json()["title"] == "renamed"
        assert (await http.patch(f"{path}/toggle")).json()["completed"] is True
        assert (await http.delete(path)).status_code == 204
        assert (await http.get(path)).status_code == 404
        count = 60
        responses = await asyncio.gather(
            *(http.post("/tasks", json={"title": f"t{i}"}) for i in range(count)),
            *(http.get("/tasks") for _ in range(count)),
        )
        assert {r.status_code for r in responses} == {200, 201}
        page = (await http.get("/tasks", params={"limit": 200})).json()
        assert page["total"] == count
