"""The README's promise: `todo-api serve` just works for a new user, and stops cleanly."""

from __future__ import annotations

import gc
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.servers import clean_environment, running_server, todo_api_command
from todo_api.commands import GC_YOUNG_THRESHOLD, serving_app


def mint(cwd: Path, env: dict[str, str], sub: str) -> str:
    result = subprocess.run(
        [*todo_api_command(), "token", "--sub", sub],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def test_serve_on_the_sqlite_default_in_an_empty_folder(tmp_path: Path) -> None:
    env = clean_environment()
    with running_server(tmp_path, env) as server:
        headers = {"Authorization": f"Bearer {mint(tmp_path, env, 'new-user')}"}
        created = httpx.post(f"{server.url}/tasks", json={"title": "first"}, headers=headers)
        assert created.status_code == 201
        listed = httpx.get(f"{server.url}/tasks", headers=headers).json()
        assert [task["title"] for task in listed["items"]] == ["first"]
        assert httpx.get(f"{server.url}/health/ready").status_code == 200
        # Uvicorn shuts down gracefully, then re-raises the signal as its exit status.
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log()
    assert (tmp_path / "todo.db").exists()
    assert "JWT_SECRET is not set" in server.log()

    # The data is still there after a restart.
    with running_server(tmp_path, env) as server:
        listed = httpx.get(f"{server.url}/tasks", headers=headers).json()
        assert [task["title"] for task in listed["items"]] == ["first"]


def test_bad_configuration_is_refused_with_a_readable_message(tmp_path: Path) -> None:
    env = clean_environment(MAX_BODY_BYTES="lots", ENVIRONMENT="production")
    result = subprocess.run(
        [*todo_api_command(), "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "MAX_BODY_BYTES" in result.stderr
    assert "Traceback" not in result.stderr


async def test_an_app_and_its_lifespan_leave_the_garbage_collector_alone(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/health")).status_code == 200
    assert gc.get_threshold()[0] != GC_YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0


def test_serve_tunes_the_garbage_collector_of_the_process_it_serves_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}")
    saved = gc.get_threshold()
    try:
        serving_app()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
