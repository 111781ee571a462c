"""Acknowledged writes survive a stop: SIGTERM drains in-flight requests, SIGKILL loses none."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_SECRET, bearer, make_token
from tests.servers import Server, clean_environment, running_server
from tests.test_flaky_network_servers import until_a_session_waits_on_a_lock

pytestmark = pytest.mark.server


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def environment(database_url: str) -> dict[str, str]:
    return clean_environment(DATABASE_URL=database_url, JWT_SECRET=TEST_SECRET, LOG_FORMAT="json")


def all_tasks(server: Server, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = httpx.get(
            f"{server.url}/tasks",
            params={"limit": 200, "offset": len(items), "sort": "created_at"},
            headers=headers,
        ).json()
        items += page["items"]
        if len(items) >= page["total"]:
            return items


def sessions_of(database_url: str) -> int:
    name = make_url(database_url).database
    with psycopg.connect(libpq(database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'todo-api'",
            (name,),
        ).fetchone()
    assert row is not None
    count: int = row[0]
    return count


def until_shutting_down(server: Server) -> None:
    """Until uvicorn has taken the signal: it stops accepting, then waits for the request."""
    deadline = time.monotonic() + 10
    while "Shutting down" not in server.log():
        assert time.monotonic() < deadline, "the signal was not taken"
        time.sleep(0.02)


def test_sigterm_lets_in_flight_requests_finish_and_closes_the_pool(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    env = environment(migrated_postgres_url)
    headers = bearer(make_token())
    with running_server(tmp_path, env, "--no-migrate") as server:
        created = [
            httpx.post(f"{server.url}/tasks", json={"title": f"t{i}"}, headers=headers).json()
            for i in range(5)
        ]
        held = created[0]["id"]
        # Hold the row's lock so that a PATCH is still running when SIGTERM arrives.
        with psycopg.connect(libpq(migrated_postgres_url)) as blocker:
            blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (held,))
            result: dict[str, httpx.Response] = {}
            patching = threading.Thread(
                target=lambda: result.setdefault(
                    "patch",
                    httpx.patch(
                        f"{server.url}/tasks/{held}",
                        json={"description": "written during shutdown"},
                        headers=headers,
                        timeout=30,
                    ),
                )
            )
            patching.start()
            until_a_session_waits_on_a_lock(migrated_postgres_url)
            server.process.send_signal(signal.SIGTERM)
            until_shutting_down(server)
            assert server.process.poll() is None, "exited with a request in flight"
            blocker.rollback()  # releases the lock: the PATCH completes
        patching.join(timeout=10)
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert result["patch"].status_code == 200
    assert result["patch"].json()["description"] == "written during shutdown"
    assert "Application shutdown complete" in server.log()
    assert sessions_of(migrated_postgres_url) == 0

    with running_server(tmp_path, env, "--no-migrate") as server:
        after = all_tasks(server, headers)
    created[0] = result["patch"].json()
    assert after == created


async def burst(server: Server, headers: dict[str, str], ids: list[str]) -> list[dict[str, Any]]:
    """Creates and patches until the server dies; returns what was acknowledged."""
    acknowledged: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:

        async def writer(number: int) -> None:
            for step in range(10_000):
                try:
                    if step % 2:
                        task_id = ids[(number + step) % len(ids)]
                        response = await http.patch(
                            f"/tasks/{task_id}",
                            json={"description": f"w{number}-{step}", "completed": True},
                            headers=headers,
                        )
                    else:
                        response = await http.post(
                            "/tasks",
                            json={"title": f"w{number}-{step}", "description": "x" * 2000},
                            headers=headers,
                        )
                except httpx.TransportError:
                    return
                if response.is_success:
                    acknowledged.append(response.json())

        await asyncio.gather(*(writer(number) for number in range(30)))
    return acknowledged


def test_sigkill_during_a_write_burst_loses_no_acknowledged_write(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    env = environment(migrated_postgres_url)
    headers = bearer(make_token())
    with running_server(tmp_path, env, "--no-migrate") as server:
        ids = [
            httpx.post(f"{server.url}/tasks", json={"title": f"p{i}"}, headers=headers).json()["id"]
            for i in range(10)
        ]
        killer = threading.Timer(1.5, server.process.send_signal, (signal.SIGKILL,))
        killer.start()
        acknowledged = asyncio.run(burst(server, headers, ids))
        killer.join()
        assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert len(acknowledged) > 20, "the burst did not get going before the kill"

    with running_server(tmp_path, env, "--no-migrate") as server:
        stored = {task["id"]: task for task in all_tasks(server, headers)}
    # Every acknowledged create is there exactly as acknowledged (patches never touch them).
    for task in acknowledged:
        if task["title"].startswith("w"):
            assert stored[task["id"]] == task
    # A patched task holds one of the patches sent (later ones may have overtaken an
    # acknowledged one); an acknowledged patch is never rolled back to the original.
    for task in acknowledged:
        if task["title"].startswith("p"):
            assert stored[task["id"]]["description"].startswith("w")
            assert stored[task["id"]]["completed"] is True
    # Nothing half-written: every row is whole and consistent.
    for task in stored.values():
        if task["title"].startswith("w"):
            assert task["description"] == "x" * 2000
        assert (task["completed_at"] is not None) is task["completed"]
        assert task["updated_at"] >= task["created_at"]
