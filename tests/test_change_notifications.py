"""Every write wakes its owner's streams, and nobody else's, on both databases: PostgreSQL's
triggers on `change_counters` (NOTIFY at commit, heard by the listener) and SQLite's
in-process feed. Checked at the hub of an in-process app, below the wire format."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from tests.conftest import ApiUser
from todo_api.events.hub import StreamHub, Subscriber

Write = Callable[[httpx.AsyncClient, ApiUser], Awaitable[Any]]


def hub_of(app: FastAPI) -> StreamHub:
    live = app.state.resources.live_updates
    assert live is not None
    hub: StreamHub = live.hub
    return hub


async def woken(subscriber: Subscriber, within: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(within):
            await subscriber.changed.wait()
    except TimeoutError:
        return False
    subscriber.changed.clear()
    return True


async def listening(app: FastAPI) -> None:
    live = app.state.resources.live_updates
    if live.listener is not None:
        async with asyncio.timeout(10):
            await live.listener.connected.wait()


async def _task(http: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    made = await http.post("/tasks", json={"title": "t"}, headers=user.headers)
    assert made.status_code == 201
    body: dict[str, Any] = made.json()
    return body


async def _list(http: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    made = await http.post("/lists", json={"name": uuid.uuid4().hex[:8]}, headers=user.headers)
    assert made.status_code == 201
    body: dict[str, Any] = made.json()
    return body


WRITES: dict[str, Callable[[httpx.AsyncClient, ApiUser, dict[str, Any], dict[str, Any]], Any]] = {
    "create": lambda http, user, _task, _list: http.post(
        "/tasks", json={"title": "new"}, headers=user.headers
    ),
    "create with a key": lambda http, user, _task, _list: http.post(
        "/tasks",
        json={"title": "keyed"},
        headers={**user.headers, "Idempotency-Key": uuid.uuid4().hex},
    ),
    "patch": lambda http, user, task, _list: http.patch(
        f"/tasks/{task['id']}", json={"title": "renamed"}, headers=user.headers
    ),
    "toggle": lambda http, user, task, _list: http.patch(
        f"/tasks/{task['id']}/toggle", headers=user.headers
    ),
    "delete": lambda http, user, task, _list: http.delete(
        f"/tasks/{task['id']}", headers=user.headers
    ),
    "rename a list": lambda http, user, _task, task_list: http.patch(
        f"/lists/{task_list['id']}", json={"name": "other"}, headers=user.headers
    ),
    "delete a list": lambda http, user, _task, task_list: http.delete(
        f"/lists/{task_list['id']}", headers=user.headers
    ),
    "erase the account": lambda http, user, _task, _list: http.delete(
        "/auth/me", headers=user.headers
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_wakes_its_owners_streams_only(
    app: FastAPI, client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, write: str
) -> None:
    await listening(app)
    task, task_list = await _task(client, alice), await _list(client, alice)
    hub = hub_of(app)
    alices, bobs = hub.join(alice.sub), hub.join(bob.sub)
    try:
        await asyncio.sleep(0.2)
        alices.changed.clear()
        response = await WRITES[write](client, alice, task, task_list)
        assert response.is_success, response.text
        assert await woken(alices)
        assert not bobs.changed.is_set()
    finally:
        hub.leave(alices)
        hub.leave(bobs)


async def test_reads_wake_nobody(app: FastAPI, client: httpx.AsyncClient, alice: ApiUser) -> None:
    await listening(app)
    task = await _task(client, alice)
    hub = hub_of(app)
    alices = hub.join(alice.sub)
    try:
        await asyncio.sleep(0.2)
        alices.changed.clear()
        await client.get("/tasks", headers=alice.headers)
        await client.get(f"/tasks/{task['id']}", headers=alice.headers)
        await client.get("/tasks/changes", headers=alice.headers)
        # (A write that matches nothing, such as one refused by If-Match, may wake them: it
        # took a number from the counter all the same. Their read then finds nothing new.)
        assert not await woken(alices, within=0.5)
    finally:
        hub.leave(alices)


def test_the_trigger_notifies_each_user_once_per_transaction_and_never_on_rollback(
    migrated_postgres_url: str,
) -> None:
    url = make_url(migrated_postgres_url).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    with (
        psycopg.connect(conninfo, autocommit=True) as listener,
        psycopg.connect(conninfo) as writer,
    ):
        listener.execute("LISTEN todo_changes")
        bump = (
            "INSERT INTO change_counters (user_id, last_seq) VALUES (%s, 1) "
            "ON CONFLICT (user_id) DO UPDATE SET last_seq = change_counters.last_seq + 1"
        )
        for user in ("ann", "ben", "ann"):
            writer.execute(bump, (user,))
        writer.execute("UPDATE change_counters SET last_seq = last_seq + 1")
        writer.commit()
        writer.execute(bump, ("cat",))
        writer.rollback()
        received = [n.payload for n in listener.notifies(timeout=1.0)]
    assert sorted(received) == ["ann", "ben"]
