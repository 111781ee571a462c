"""Idempotency-Key on POST /tasks, PATCH /tasks/{id} and toggle: retries are safe."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from tests.conftest import ApiUser, TaskFactory, assert_problem, make_settings
from tests.servers import serving
from todo_api.errors import BadRequestError
from todo_api.idempotency.keys import KEY_PATTERN, idempotency_key
from todo_api.settings import Settings


def keyed(user: ApiUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


async def titles(client: httpx.AsyncClient, user: ApiUser) -> list[str]:
    response = await client.get("/tasks", params={"limit": 200}, headers=user.headers)
    assert response.status_code == 200
    return sorted(task["title"] for task in response.json()["items"])


async def test_a_repeated_create_replays_the_first_response(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = new_key()
    first = await client.post("/tasks", json={"title": "once"}, headers=keyed(alice, key))
    again = await client.post("/tasks", json={"title": "once"}, headers=keyed(alice, key))
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"] == f"/tasks/{first.json()['id']}"
    assert again.headers["content-type"] == "application/json"
    assert again.headers["etag"] == first.headers["etag"] == first.json()["etag"]
    assert await titles(client, alice) == ["once"]


async def test_the_same_json_value_with_other_spacing_and_key_order_is_the_same_request(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = new_key()
    headers = {**keyed(alice, key), "Content-Type": "application/json"}
    first = await client.post(
        "/tasks", content=b'{"title":"same","description":"d"}', headers=headers
    )
    again = await client.post(
        "/tasks", content=b'{ "description" : "d",\n  "title" : "same" }', headers=headers
    )
    assert first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await titles(client, alice) == ["same"]


@pytest.mark.parametrize(
    ("second_method", "second_path", "second_body"),
    [
        ("POST", "/tasks", {"title": "other"}),
        ("PATCH", "/tasks/{id}", {"title": "first"}),
        ("PATCH", "/tasks/{id}/toggle", None),
    ],
)
async def test_a_key_reused_for_another_request_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    alice: ApiUser,
    second_method: str,
    second_path: str,
    second_body: dict[str, Any] | None,
) -> None:
    key = new_key()
    first = await client.post("/tasks", json={"title": "first"}, headers=keyed(alice, key))
    assert first.status_code == 201
    task = first.json()
    response = await client.request(
        second_method,
        second_path.format(id=task["id"]),
        json=second_body,
        headers=keyed(alice, key),
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    current = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert current.json() == task
    assert await titles(client, alice) == ["first"]


async def test_a_retried_toggle_flips_the_task_once(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    key = new_key()
    answers = [
        await client.patch(f"/tasks/{task['id']}/toggle", headers=keyed(alice, key))
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all(answer.json() == answers[0].json() for answer in answers)
    assert answers[0].json()["completed"] is True
    current = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert current.json()["completed"] is True


async def test_a_retried_patch_is_not_applied_over_a_later_change(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    key = new_key()
    url = f"/tasks/{task['id']}"
    first = await client.patch(url, json={"title": "from phone"}, headers=keyed(alice, key))
    later = await client.patch(url, json={"title": "from laptop"}, headers=alice.headers)
    retry = await client.patch(url, json={"title": "from phone"}, headers=keyed(alice, key))
    assert first.status_code == later.status_code == retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert (await client.get(url, headers=alice.headers)).json()["title"] == "from laptop"


async def test_a_4xx_answer_is_stored_and_replayed(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    key = new_key()
    url = f"/tasks/{task['id']}/toggle"
    refused = await client.patch(url, headers=keyed(bob, key))
    again = await client.patch(url, headers=keyed(bob, key))
    assert_problem(refused, 403)
    assert_problem(again, 403)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == refused.content


async def test_keys_belong_to_their_user(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    key = new_key()
    mine = await client.post("/tasks", json={"title": "a"}, headers=keyed(alice, key))
    theirs = await client.post("/tasks", json={"title": "b"}, headers=keyed(bob, key))
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert await titles(client, alice) == ["a"]
    assert await titles(client, bob) == ["b"]


async def test_the_quoted_form_of_a_key_is_the_same_key(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = new_key()
    first = await client.post("/tasks", json={"title": "q"}, headers=keyed(alice, f'"{key}"'))
    again = await client.post("/tasks", json={"title": "q"}, headers=keyed(alice, key))
    assert first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert await titles(client, alice) == ["q"]


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        '""',
        "x" * 256,
        '"' + "x" * 256 + '"',
        "has space",
        "tab\there",
        "caf\xe9".encode("latin-1"),
        '"unfinished\\"',
        '"in"side"',
        '"bad \\escape"',
    ],
)
async def test_a_malformed_key_is_400_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, bad_key: str | bytes
) -> None:
    headers: dict[str, str | bytes] = {**alice.headers, "Idempotency-Key": bad_key}
    response = await client.post("/tasks", json={"title": "never"}, headers=headers)
    assert_problem(response, 400)
    assert "Idempotency-Key" in response.json()["detail"]
    assert await titles(client, alice) == []


async def test_the_longest_keys_of_every_visible_character_are_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    visible = "".join(chr(code) for code in range(0x21, 0x7F))
    for key in (visible, "k" * 255, "!"):
        response = await client.post("/tasks", json={"title": "ok"}, headers=keyed(alice, key))
        assert response.status_code == 201, response.text


async def test_a_key_given_twice_is_400(client: httpx.AsyncClient, alice: ApiUser) -> None:
    headers = [*alice.headers.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    response = await client.post("/tasks", json={"title": "never"}, headers=headers)
    assert_problem(response, 400)


async def test_concurrent_duplicates_create_one_task(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    key = new_key()
    # A small pool: the shared test PostgreSQL has few connections to spare.
    async with serving(settings_factory(db_pool_size=4)) as client:
        answers = await asyncio.gather(
            *(
                client.post("/tasks", json={"title": "rush"}, headers=keyed(alice, key))
                for _ in range(12)
            )
        )
        assert await titles(client, alice) == ["rush"]
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409}, statuses
    created = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(created) == 1


async def test_after_the_ttl_a_key_is_new_again(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    async with serving(settings_factory(idempotency_key_ttl_seconds=1)) as client:
        key = new_key()
        first = await client.post("/tasks", json={"title": "t"}, headers=keyed(alice, key))
        await asyncio.sleep(1.2)
        # Even another request: the old response is forgotten, not compared against.
        second = await client.post("/tasks", json={"title": "u"}, headers=keyed(alice, key))
        third = await client.post("/tasks", json={"title": "u"}, headers=keyed(alice, key))
        assert first.status_code == second.status_code == third.status_code == 201
        assert "idempotent-replayed" not in second.headers
        assert third.headers["idempotent-replayed"] == "true"
        assert third.json() == second.json()
        assert await titles(client, alice) == ["t", "u"]


async def test_a_request_without_a_key_is_never_stored(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for _ in range(2):
        response = await client.post("/tasks", json={"title": "plain"}, headers=alice.headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert await titles(client, alice) == ["plain", "plain"]


async def test_a_request_refused_by_validation_does_not_use_up_the_key(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = new_key()
    refused = await client.post("/tasks", json={"title": ""}, headers=keyed(alice, key))
    assert_problem(refused, 422)
    fixed = await client.post("/tasks", json={"title": "fixed"}, headers=keyed(alice, key))
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


# --- PostgreSQL: a key whose first request is still running -------------------------------


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_a_duplicate_while_the_first_still_runs_is_409_then_replays(
    migrated_postgres_url: str, alice: ApiUser
) -> None:
    # PostgreSQL only: SQLite runs one writer at a time, so there a duplicate waits for the
    # first request to commit and replays its response.
    async with serving(make_settings(migrated_postgres_url, db_pool_size=4)) as client:
        created = await client.post("/tasks", json={"title": "slow"}, headers=alice.headers)
        task = created.json()
        key = new_key()
        url = f"/tasks/{task['id']}/toggle"
        # Another session holds the task's row: the first toggle claims the key, then waits.
        with psycopg.connect(_libpq(migrated_postgres_url)) as blocker:
            blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task["id"],))
            first = asyncio.create_task(client.patch(url, headers=keyed(alice, key)))
            await _until_waiting_on_a_lock(migrated_postgres_url)
            duplicate = await client.patch(url, headers=keyed(alice, key))
            body = assert_problem(duplicate, 409)
            assert "still running" in body["detail"]
            blocker.rollback()
        answered = await first
        assert answered.status_code == 200
        retry = await client.patch(url, headers=keyed(alice, key))
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == answered.json()
        assert retry.json()["completed"] is True


async def _until_waiting_on_a_lock(database_url: str) -> None:
    with psycopg.connect(_libpq(database_url), autocommit=True) as watcher:
        for _ in range(200):
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0] > 0:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the first request never reached the row lock")


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=260))
@hypothesis_settings(max_examples=300, deadline=None)
def test_the_documented_pattern_is_the_parsers_rule(value: str) -> None:
    for candidate in (value, f'"{value}"'):
        try:
            accepted = idempotency_key([(b"idempotency-key", candidate.encode())]) is not None
        except BadRequestError:
            accepted = False
        assert accepted == bool(re.fullmatch(KEY_PATTERN, candidate)), candidate


async def test_a_5xx_is_not_stored_and_the_retry_runs_afresh(
    migrated_postgres_url: str, alice: ApiUser
) -> None:
    # PostgreSQL only: the request's deadline cuts a connection that waits on a lock.
    settings = make_settings(migrated_postgres_url, db_pool_size=4, db_request_timeout_seconds=1)
    async with serving(settings) as client:
        task = (await client.post("/tasks", json={"title": "t"}, headers=alice.headers)).json()
        url = f"/tasks/{task['id']}/toggle"
        key = new_key()
        with psycopg.connect(_libpq(migrated_postgres_url)) as blocker:
            blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task["id"],))
            failed = await client.patch(url, headers=keyed(alice, key))
            assert_problem(failed, 503)
            blocker.rollback()
        # The cut session's transaction may still hold the key for a moment, until
        # PostgreSQL notices the connection is gone: 409, as for any request still running.
        for _ in range(50):
            retry = await client.patch(url, headers=keyed(alice, key))
            if retry.status_code != 409:
                break
            await asyncio.sleep(0.1)
        assert retry.status_code == 200, retry.text
        assert "idempotent-replayed" not in retry.headers
        assert retry.json()["completed"] is True
        again = await client.patch(url, headers=keyed(alice, key))
        assert again.headers["idempotent-replayed"] == "true"
        current = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
        assert current.json()["completed"] is True
