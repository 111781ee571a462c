"""Structured log lines: one JSON line per request, with its id, and never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ApiUser, assert_problem, make_token
from tests.servers import open_client, serving
from todo_api.app import create_app
from todo_api.settings import Settings

SECRET_PASSWORD = "correct-horse-battery-staple-4711"


@pytest.fixture(autouse=True)
def _quiet_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx logs each URL the *test client* requests (query string included); only the
    # service's own lines are under test.
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", True)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def request_lines(text: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(text) if line.get("event") == "request"]


async def test_each_request_logs_one_json_line_with_its_id_and_route_template(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
    alice: ApiUser,
) -> None:
    async with serving(settings_factory(log_format="json")) as http:
        created = await http.post("/tasks", json={"title": "x"}, headers=alice.headers)
        task_id = created.json()["id"]
        await http.get(f"/tasks/{task_id}", headers={**alice.headers, "X-Request-ID": "trace-1"})
        await http.get("/no/such/route", headers={"X-Request-ID": "trace-2"})
    lines = request_lines(capsys.readouterr().err)
    by_id = {line["request_id"]: line for line in lines}
    read = by_id["trace-1"]
    assert read["method"] == "GET"
    assert read["route"] == "/tasks/{task_id}"
    assert read["status"] == 200
    assert read["duration_ms"] >= 0
    assert read["user"]
    assert alice.sub not in json.dumps(read)
    assert by_id["trace-2"]["route"] == "unmatched"
    assert by_id["trace-2"]["user"] is None


async def test_the_same_user_gets_the_same_reference_and_others_another(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
    alice: ApiUser,
    bob: ApiUser,
) -> None:
    async with serving(settings_factory(log_format="json")) as http:
        for user, request_id in ((alice, "a1"), (alice, "a2"), (bob, "b1")):
            await http.get("/tasks", headers={**user.headers, "X-Request-ID": request_id})
    by_id = {line["request_id"]: line["user"] for line in request_lines(capsys.readouterr().err)}
    assert by_id["a1"] == by_id["a2"] != by_id["b1"]


async def test_tokens_and_passwords_never_reach_the_logs(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    valid = make_token("user-with-a-secret-token")
    forged = make_token("someone", secret="not-the-right-secret-at-all-but-long")
    settings = settings_factory(log_format="json", log_level="DEBUG")
    async with serving(settings) as http:
        await http.get("/tasks", headers={"Authorization": f"Bearer {valid}"})
        await http.get(f"/tasks?token={valid}", headers={"Authorization": f"Bearer {forged}"})
        await http.post(
            "/auth/token",
            data={"username": "a@example.com", "password": SECRET_PASSWORD},
        )
        await http.post(
            "/tasks",
            json={"title": SECRET_PASSWORD, "password": SECRET_PASSWORD},
            headers={"Authorization": f"Bearer {valid}"},
        )
        await http.get(f"/tasks/{SECRET_PASSWORD}", headers={"Authorization": f"Bearer {valid}"})
    output = capsys.readouterr().err
    assert request_lines(output), "no request lines were logged"
    for secret in (valid, forged, SECRET_PASSWORD, settings.signing_secret or "-", "user-with"):
        assert secret not in output
    for part in valid.split("."):
        assert part not in output


async def test_start_up_lines_name_database_issuers_and_limits_without_secrets(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_factory(
        log_format="json",
        jwt_issuer="https://issuer.example.com",
        redis_url="redis://:redis-password-1234@127.0.0.1:1/0",
        rate_limit_tasks="5/second",
    )
    async with serving(settings) as http:
        await http.get("/health")
    output = capsys.readouterr().err
    events = {line["event"]: line for line in json_lines(output)}
    ready = events["todo-api ready"]
    assert ready["database"].split("://")[0] in {"sqlite+aiosqlite", "postgresql+psycopg"}
    assert events["token issuers"]["issuer"] == "https://issuer.example.com"
    assert events["token issuers"]["shared_secret"] is True
    limits = events["rate limits"]
    assert limits["tasks_per_subject"] == "5/second"
    assert limits["storage"] == "redis://127.0.0.1:1/0"
    assert "redis-password-1234" not in output
    assert settings.signing_secret is not None
    assert settings.signing_secret not in output


async def test_an_unexpected_error_logs_its_class_and_frames_but_not_its_message(
    settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async def boom() -> None:
        raise RuntimeError("postgresql://user:hunter2@db/prod")

    app = create_app(settings_factory(log_format="json"))
    app.add_api_route("/test-only/boom", boom)
    async with open_client(app) as http:
        response = await http.get("/test-only/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    output = capsys.readouterr().err
    assert "hunter2" not in output
    errors = [line for line in json_lines(output) if line.get("event") == "unhandled error"]
    assert errors
    assert errors[0]["request_id"] == "boom-1"
    assert "RuntimeError" in errors[0]["exception"]
    assert "in boom" in errors[0]["exception"]


async def test_console_format_in_development_by_default(
    settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(settings_factory(log_format=None, environment="development")) as http:
        await http.get("/health", headers={"X-Request-ID": "console-1"})
    output = capsys.readouterr().err
    line = next(line for line in output.splitlines() if "console-1" in line)
    assert not line.startswith("{")
    assert "request" in line
    assert "route=/health" in line


async def test_log_level_warning_drops_request_lines_but_keeps_errors(
    settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app = create_app(settings_factory(log_format="json", log_level="WARNING"))
    app.add_api_route("/test-only/boom", boom)
    async with open_client(app) as http:
        await http.get("/health", headers={"X-Request-ID": "quiet-1"})
        await http.get("/test-only/boom", headers={"X-Request-ID": "loud-1"})
    lines = request_lines(capsys.readouterr().err)
    assert [line["request_id"] for line in lines] == ["loud-1"]
    assert lines[0]["status"] == 500


async def test_a_database_error_that_is_a_bug_is_a_500_logged_with_its_frames(
    settings_factory: Callable[..., Settings],
    empty_database_url: Callable[[str], str],
    database_backend: str,
    alice: ApiUser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if database_backend not in ("sqlite", "postgresql"):
        pytest.skip("needs an empty database of the test's own")
    # The database answers but has no tables, as after a forgotten migration.
    settings = settings_factory(database_url=empty_database_url(database_backend))
    async with serving(settings) as http:
        response = await http.get("/tasks", headers={**alice.headers, "X-Request-ID": "drift-1"})
    assert_problem(response, 500)
    output = capsys.readouterr().err
    errors = [line for line in json_lines(output) if line.get("event") == "unhandled error"]
    assert [line["request_id"] for line in errors] == ["drift-1"]
    assert "sqlalchemy.exc." in errors[0]["exception"]
    # The frames lead to the query that failed.
    assert "repository.py" in errors[0]["exception"]
    assert "in page" in errors[0]["exception"]
    assert "database unavailable" not in output


@pytest.mark.parametrize("error", [TimeoutError, ConnectionError])
async def test_a_timeout_or_connection_error_outside_the_database_is_a_500(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
    error: type[Exception],
) -> None:
    async def call_elsewhere() -> None:
        raise error("an upstream that is not the database")

    app = create_app(settings_factory())
    app.add_api_route("/test-only/elsewhere", call_elsewhere)
    async with open_client(app) as http:
        response = await http.get("/test-only/elsewhere")
    assert_problem(response, 500)
    assert "retry-after" not in response.headers
    assert "unhandled error" in capsys.readouterr().err
