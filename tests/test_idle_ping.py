"""A pooled connection that died while idle costs no request an error (PostgreSQL).

The pool's checkout hook pings a connection that idled longer than DB_PING_AFTER_IDLE_SECONDS
and replaces it when the ping fails; busier connections are trusted, so the hot path pays no
extra round trip.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from tests.conftest import ApiUser, assert_problem, make_settings
from tests.servers import serving


def terminate_service_sessions(database_url: str) -> int:
    """What a database restart or a pooler dropping idle clients does to the pool."""
    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'todo-api'",
            (url.database,),
        ).fetchall()
    return len(rows)


async def test_a_connection_killed_while_idle_is_replaced_before_use(
    migrated_postgres_url: str, alice: ApiUser
) -> None:
    settings = make_settings(migrated_postgres_url, db_pool_size=1, db_ping_after_idle_seconds=0)
    async with serving(settings) as http:
        assert (await http.get("/tasks", headers=alice.headers)).status_code == 200
        assert terminate_service_sessions(migrated_postgres_url) == 1
        # A create: never run twice, so only the ping can spare it the dead connection.
        created = await http.post("/tasks", json={"title": "after the ping"}, headers=alice.headers)
        assert created.status_code == 201, created.text


async def test_without_the_ping_the_dead_connection_fails_the_request(
    migrated_postgres_url: str, alice: ApiUser
) -> None:
    # The counterpart that shows the test above can fail: a trusted (recently used)
    # connection is not pinged, and its request meets the dead socket. A create, because a
    # read would be run again on a fresh connection (test_retries.py) and hide the miss.
    settings = make_settings(migrated_postgres_url, db_pool_size=1, db_ping_after_idle_seconds=3600)
    async with serving(settings) as http:
        assert (await http.get("/tasks", headers=alice.headers)).status_code == 200
        assert terminate_service_sessions(migrated_postgres_url) == 1
        created = await http.post(
            "/tasks", json={"title": "meets a dead socket"}, headers=alice.headers
        )
        assert_problem(created, 503)
        # The pool replaced the connection: the next request is served.
        assert (await http.get("/tasks", headers=alice.headers)).status_code == 200
