"""Every statement the service runs can be cached by SQLAlchemy, so it is compiled once per
process and not on every request: a construct without a cache key (a custom SQL element
missing its traversal) silently recompiles the statement each time, which cost a GET half
again its CPU before this test existed. Requests through every front door, on both
databases, with each executed statement's cache key checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.conftest import ApiUser
from tests.dav_support import D, Dav, multiget_body, query_body, sync_body, todo

RECURRING = {"rule": "FREQ=WEEKLY;COUNT=3", "time_zone": "Europe/Berlin", "from": "due"}


@pytest.fixture
def uncached() -> Iterator[list[str]]:
    found: list[str] = []

    def check(_conn: Any, clause: Any, *_args: Any) -> None:
        # Savepoints are control statements, never compiled from a cache.
        if "savepoint" in getattr(clause, "__visit_name__", ""):
            return
        if hasattr(clause, "_generate_cache_key") and clause._generate_cache_key() is None:
            found.append(str(clause)[:300])

    event.listen(Engine, "before_execute", check)
    yield found
    event.remove(Engine, "before_execute", check)


async def test_every_statement_of_the_api_is_cacheable(
    client: httpx.AsyncClient, alice: ApiUser, uncached: list[str]
) -> None:
    headers = alice.headers
    made = await client.post("/lists", json={"name": "Home"}, headers=headers)
    list_id = made.json()["id"]
    parent = (await client.post("/tasks", json={"title": "a"}, headers=headers)).json()
    body = {"title": "b", "parent_id": parent["id"], "due_at": "2026-03-23T08:00:00Z"}
    child = await client.post("/tasks", json={**body, "recurrence": RECURRING}, headers=headers)
    child_id = child.json()["id"]
    for url in ("/tasks", "/tasks?sort=position&top_level=true", "/lists", "/tags"):
        assert (await client.get(url, headers=headers)).status_code == 200
    assert (await client.get(f"/tasks/{child_id}", headers=headers)).status_code == 200
    assert (await client.patch(f"/tasks/{child_id}/toggle", headers=headers)).status_code == 200
    patched = await client.patch(f"/tasks/{parent['id']}", json={"title": "c"}, headers=headers)
    assert patched.status_code == 200
    moved = await client.post(f"/tasks/{child_id}/move", json={"after": None}, headers=headers)
    assert moved.status_code == 200
    relisted = {"list_id": list_id}
    assert (
        await client.patch(f"/tasks/{parent['id']}", json=relisted, headers=headers)
    ).status_code == 200
    assert (await client.get("/tasks/changes", headers=headers)).status_code == 200
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.put(f"{collection}x.ics", todo("x"))).status_code == 201
    assert (await dav.propfind(collection, f"{D}getetag", depth="1")).status_code == 207
    assert (await dav.report(collection, multiget_body(f"{collection}x.ics"))).status_code == 207
    assert (await dav.report(collection, query_body(""))).status_code == 207
    assert (await dav.report(collection, sync_body())).status_code == 207
    assert (await client.delete(f"/tasks/{parent['id']}", headers=headers)).status_code == 204
    assert (await client.delete(f"/lists/{list_id}", headers=headers)).status_code == 204
    assert uncached == []
