"""A real server whose PostgreSQL goes away: 503 with Retry-After in bounded time (and 422, at
once, for a request that breaks a rule), then recovery.

The server reaches PostgreSQL through a proxy that the test cuts: new connections refused and
open ones silenced (or, in the harshest case, new ones accepted and silenced too). Nothing
may hang, nothing may answer 500, and once the network is back the same process serves
again without a restart.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_SECRET, bearer, make_token
from tests.servers import Server, clean_environment, running_server, todo_api_command
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.server

# The contract allows 10 s; the default request budget is 5 s.
MAX_OUTAGE_ANSWER_SECONDS = 7.0


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    return clean_environment(
        DATABASE_URL=database_url, JWT_SECRET=TEST_SECRET, LOG_FORMAT="json", **extra
    )


async def timed(
    http: httpx.AsyncClient, method: str, path: str, **kwargs: object
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


async def every_route_answers_503(server: Server, headers: dict[str, str], task_id: str) -> float:
    """Hits readiness and every kind of task route at once; returns the slowest answer."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        calls = [
            ("GET", "/health/ready", {}),
            ("GET", "/tasks", {"headers": headers}),
            ("GET", f"/tasks/{task_id}", {"headers": headers}),
            ("POST", "/tasks", {"headers": headers, "json": {"title": "during outage"}}),
            ("PATCH", f"/tasks/{task_id}", {"headers": headers, "json": {"title": "x"}}),
            ("PATCH", f"/tasks/{task_id}/toggle", {"headers": headers}),
            ("DELETE", f"/tasks/{task_id}", {"headers": headers}),
        ]
        results = await asyncio.gather(*(timed(http, m, p, **kw) for m, p, kw in calls))
    for (method, path, _), (response, elapsed) in zip(calls, results, strict=True):
        assert response.status_code == 503, f"{method} {path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) > 0
        assert elapsed < MAX_OUTAGE_ANSWER_SECONDS, f"{method} {path} took {elapsed:.1f}s"
    return max(elapsed for _, elapsed in results)


async def invalid_requests_answer_422(
    server: Server, headers: dict[str, str], task_id: str
) -> None:
    """A request that breaks a rule is told so, database or not: it never needed one."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        calls = [
            ("POST", "/tasks", {"headers": headers, "json": {"title": ""}}),
            ("PATCH", f"/tasks/{task_id}", {"headers": headers, "json": {}}),
            ("PUT", f"/tasks/{task_id}", {"headers": headers, "json": {"priority": "urgent"}}),
            ("GET", "/tasks", {"headers": headers, "params": {"limit": 0}}),
            ("GET", "/tasks/not-a-uuid", {"headers": headers}),
        ]
        results = await asyncio.gather(*(timed(http, m, p, **kw) for m, p, kw in calls))
    for (method, path, _), (response, elapsed) in zip(calls, results, strict=True):
        assert response.status_code == 422, f"{method} {path}: {response.status_code}"
        assert elapsed < 1.0, f"{method} {path} took {elapsed:.1f}s"


async def wait_for_recovery(server: Server, headers: dict[str, str], within: float) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        while time.monotonic() - started < within:
            response = await http.get("/tasks", headers=headers)
            assert response.status_code in (200, 503), response.text
            if response.status_code == 200:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
    raise AssertionError(f"no recovery within {within}s:\n{server.log()}")


async def warm_up(server: Server, headers: dict[str, str]) -> str:
    """Fills the pool with several connections and returns a task id."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        created = await asyncio.gather(
            *(http.post("/tasks", json={"title": f"t{i}"}, headers=headers) for i in range(8))
        )
        assert {r.status_code for r in created} == {201}
        task_id: str = created[0].json()["id"]
        return task_id


@pytest.mark.parametrize("refuse_new", [True, False], ids=["refused", "blackholed"])
async def test_outage_answers_503_quickly_and_recovers_without_restart(
    tmp_path: Path, migrated_postgres_url: str, proxy: TcpProxy, refuse_new: bool
) -> None:
    env = server_environment(proxy.url_for(migrated_postgres_url))
    headers = bearer(make_token())
    with running_server(tmp_path, env, "--no-migrate") as server:
        task_id = await warm_up(server, headers)
        async with httpx.AsyncClient(base_url=server.url) as http:
            before = (await http.get(f"/tasks/{task_id}", headers=headers)).json()

        proxy.cut(refuse_new=refuse_new)
        slowest = await every_route_answers_503(server, headers, task_id)
        # A second round meets no stale pooled connection: still 503, still bounded.
        slowest_again = await every_route_answers_503(server, headers, task_id)
        await invalid_requests_answer_422(server, headers, task_id)
        print(
            f"outage ({'refused' if refuse_new else 'blackholed'}): slowest 503 "
            f"{slowest:.2f}s, then {slowest_again:.2f}s"
        )

        proxy.restore()
        recovered_in = await wait_for_recovery(server, headers, within=10)
        print(f"recovered {recovered_in:.2f}s after the network came back")
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/health/ready")).status_code == 200
            # Nothing answered 503 was applied: the task is as it was.
            after = await http.get(f"/tasks/{task_id}", headers=headers)
            assert after.status_code == 200
            assert after.json() == before
            page = (await http.get("/tasks", headers=headers)).json()
            assert page["total"] == 8
    assert "unhandled error" not in server.log()
    assert "Traceback" not in server.log()


def test_start_waits_for_a_cold_database_then_serves(
    tmp_path: Path, migrated_postgres_url: str, proxy: TcpProxy
) -> None:
    proxy.cut()
    retrying = threading.Event()

    def wake_once_the_server_waits() -> None:
        # The database "wakes up" a second after the server has logged that it waits.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not retrying.is_set():
            logs = "".join(path.read_text() for path in tmp_path.glob("server-*.log"))
            if "database not answering yet, retrying" in logs:
                retrying.set()
                time.sleep(1.0)
            time.sleep(0.05)
        proxy.restore()

    waking = threading.Thread(target=wake_once_the_server_waits, daemon=True)
    waking.start()
    env = server_environment(proxy.url_for(migrated_postgres_url), DB_STARTUP_WAIT_SECONDS="30")
    # Without --no-migrate: development `serve` migrates first, which must wait as well.
    with running_server(tmp_path, env) as server:
        assert retrying.is_set()
        assert httpx.get(f"{server.url}/health/ready").status_code == 200
        headers = bearer(make_token())
        created = httpx.post(f"{server.url}/tasks", json={"title": "hi"}, headers=headers)
        assert created.status_code == 201
    waking.join()
    assert "database answers" in server.log()


def test_start_gives_up_after_the_wait_with_a_logged_reason(
    tmp_path: Path, migrated_postgres_url: str, proxy: TcpProxy
) -> None:
    proxy.cut()
    url = make_url(proxy.url_for(migrated_postgres_url)).set(password="s3cret-pw")
    env = server_environment(url.render_as_string(hide_password=False), DB_STARTUP_WAIT_SECONDS="2")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        started = time.monotonic()
        code = subprocess.run(
            [*todo_api_command(), "serve", "--no-migrate", "--port", "0"],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=30,
            check=False,
        ).returncode
    elapsed = time.monotonic() - started
    log = log_path.read_text()
    assert code != 0
    assert elapsed < 15
    assert "database not answering yet, retrying" in log
    assert "database unreachable, giving up" in log
    assert "s3cret-pw" not in log
