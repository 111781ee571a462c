"""Real server processes on one PostgreSQL: keys honoured across instances, a crash between
claim and commit, and a syncing reader racing concurrent writers (commit order).

PostgreSQL only (that is where instances share state and commits truly interleave), and
kept to a few seconds each: these are the slowest tests of retries and sync.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_SECRET, bearer, make_token
from tests.servers import Server, clean_environment, running_server, running_servers

pytestmark = pytest.mark.server


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def environment(database_url: str) -> dict[str, str]:
    return clean_environment(
        DATABASE_URL=database_url, JWT_SECRET=TEST_SECRET, LOG_FORMAT="json", LOG_LEVEL="WARNING"
    )


def user_headers() -> dict[str, str]:
    return bearer(make_token(f"user-{uuid.uuid4().hex}"))


def all_tasks(base_url: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/tasks", params=params).json()
            found.update({task["id"]: task for task in page["items"]})
            cursor = page["next_cursor"]
            if cursor is None:
                return found


def test_two_instances_honour_each_others_keys(tmp_path: Path, migrated_postgres_url: str) -> None:
    env = environment(migrated_postgres_url)
    headers = user_headers()
    with running_servers(tmp_path, env, "--no-migrate", count=2) as (first, second):
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        made = httpx.post(
            f"{first.url}/tasks", json={"title": "once"}, headers={**headers, **key}, timeout=30
        )
        again = httpx.post(
            f"{second.url}/tasks", json={"title": "once"}, headers={**headers, **key}, timeout=30
        )
        assert made.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == made.json()

        # Duplicates racing on both instances at once still make one task.
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        answers: list[httpx.Response] = []

        def post(server: Server) -> None:
            answers.append(
                httpx.post(
                    f"{server.url}/tasks",
                    json={"title": "raced"},
                    headers={**headers, **key},
                    timeout=30,
                )
            )

        threads = [threading.Thread(target=post, args=(server,)) for server in (first, second) * 4]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {answer.status_code for answer in answers} <= {201, 409}
        assert len({answer.json()["id"] for answer in answers if answer.status_code == 201}) == 1
        titles = sorted(task["title"] for task in all_tasks(first.url, headers).values())
    assert titles == ["once", "raced"]


def test_a_crash_after_the_claim_lets_the_retry_write_once(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    env = environment(migrated_postgres_url)
    headers = user_headers()
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    with running_server(tmp_path, env, "--no-migrate") as server:
        task = httpx.post(f"{server.url}/tasks", json={"title": "t"}, headers=headers).json()
        url = f"{server.url}/tasks/{task['id']}/toggle"
        with psycopg.connect(libpq(migrated_postgres_url)) as blocker:
            # The toggle claims its key, then waits on the task's row; then the process dies.
            blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task["id"],))
            pending = threading.Thread(
                target=lambda: _ignore_errors(
                    lambda: httpx.patch(url, headers={**headers, **key}, timeout=30)
                )
            )
            pending.start()
            until_a_session_waits_on_a_lock(migrated_postgres_url)
            server.stop(signal.SIGKILL)
            pending.join()
            blocker.rollback()
    with running_server(tmp_path, env, "--no-migrate") as restarted:
        url = f"{restarted.url}/tasks/{task['id']}/toggle"
        retry = _until_answered(lambda: httpx.patch(url, headers={**headers, **key}, timeout=30))
        assert retry.status_code == 200, retry.text
        assert "idempotent-replayed" not in retry.headers
        assert retry.json()["completed"] is True
        replay = httpx.patch(url, headers={**headers, **key}, timeout=30)
        assert replay.headers["idempotent-replayed"] == "true"
        current = httpx.get(f"{restarted.url}/tasks/{task['id']}", headers=headers).json()
    assert current["completed"] is True


def _ignore_errors(call: Any) -> None:
    with contextlib.suppress(httpx.TransportError):
        call()


def _until_answered(call: Any) -> httpx.Response:
    # The killed process's session may hold the advisory lock until PostgreSQL notices it
    # is gone: a 409 until then.
    for _ in range(100):
        response: httpx.Response = call()
        if response.status_code != 409:
            return response
        time.sleep(0.1)
    return response


def until_a_session_waits_on_a_lock(database_url: str) -> None:
    with psycopg.connect(libpq(database_url), autocommit=True) as watcher:
        for _ in range(300):
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("the request never reached the row lock")


WRITERS = 4
WRITES_PER_WRITER = 60


def test_a_reader_syncing_during_concurrent_writes_misses_nothing(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    env = environment(migrated_postgres_url)
    headers = user_headers()
    with running_server(tmp_path, env, "--no-migrate", "--workers", "2") as server:
        writing = threading.Event()
        writing.set()
        failures: list[str] = []
        replica: dict[str, dict[str, Any]] = {}
        state: dict[str, Any] = {"since": None, "syncs": 0}

        def catch_up(http: httpx.Client) -> None:
            while True:
                params: dict[str, Any] = {"limit": 7}
                if state["since"] is not None:
                    params["since"] = state["since"]
                page = http.get("/tasks/changes", params=params).json()
                for task in page["tasks"]:
                    known = replica.get(task["id"])
                    # A task's version only grows: an older state after a newer one would
                    # mean the token ran ahead of a commit.
                    if known is not None and int(known["etag"].strip('"')) > int(
                        task["etag"].strip('"')
                    ):
                        failures.append(f"went back: {task['id']}")
                    replica[task["id"]] = task
                for task_id in page["deleted"]:
                    replica.pop(task_id, None)
                state["since"] = page["next_since"]
                state["syncs"] += 1
                if not page["has_more"]:
                    return

        def reader() -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
                while writing.is_set():
                    catch_up(http)

        def writer(seed: int) -> None:
            chosen = random.Random(seed)
            mine: list[str] = []
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
                for number in range(WRITES_PER_WRITER):
                    action = chosen.random()
                    if not mine or action < 0.45:
                        made = http.post("/tasks", json={"title": f"w{seed}-{number}"})
                        if made.status_code != 201:
                            failures.append(made.text)
                            continue
                        mine.append(made.json()["id"])
                    elif action < 0.65:
                        target = chosen.choice(mine)
                        http.patch(f"/tasks/{target}", json={"title": f"p{seed}-{number}"})
                    elif action < 0.85:
                        http.patch(f"/tasks/{chosen.choice(mine)}/toggle")
                    else:
                        target = mine.pop(chosen.randrange(len(mine)))
                        if http.delete(f"/tasks/{target}").status_code != 204:
                            failures.append(f"delete {target}")

        syncing = threading.Thread(target=reader)
        writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
        syncing.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        syncing.join()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            catch_up(http)
        expected = all_tasks(server.url, headers)
    assert failures == []
    assert state["syncs"] > 10, "the reader did not sync while the writers wrote"
    assert replica == expected
