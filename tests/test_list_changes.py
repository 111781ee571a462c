"""The `/lists` routes of API.md that change a list: rename, delete, Idempotency-Key creates,
and the allowance, token and method checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.servers import serving
from tests.test_lists import ListFactory, create_list, default_list, lists_of, tables
from tests.test_rate_limits import assert_rate_limited
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.settings import Settings

__all__ = ["create_list", "tables"]  # fixtures used by the tests below


# PATCH /lists/{id}


async def test_rename_changes_the_name_updated_at_and_etag(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice, "Old")
    response = await client.patch(
        f"/lists/{made['id']}", json={"name": " New "}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert renamed["name"] == "New"
    assert renamed["created_at"] == made["created_at"]
    assert datetime.fromisoformat(renamed["updated_at"]) > datetime.fromisoformat(
        made["updated_at"]
    )
    assert renamed["etag"] != made["etag"]
    assert response.headers["etag"] == renamed["etag"]


async def test_the_default_list_can_be_renamed_and_stays_default(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    default = await default_list(client, alice)
    response = await client.patch(
        f"/lists/{default['id']}", json={"name": "Inbox"}, headers=alice.headers
    )
    assert response.json()["is_default"] is True
    assert (await create_task(alice))["list_id"] == default["id"]
    # "Tasks" is free again.
    assert (await client.post("/lists", json={"name": "Tasks"}, headers=alice.headers)).is_success


async def test_rename_to_another_case_of_its_own_name_is_allowed(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice, "work")
    response = await client.patch(
        f"/lists/{made['id']}", json={"name": "Work"}, headers=alice.headers
    )
    assert response.json()["name"] == "Work"


async def test_rename_to_a_taken_name_is_409_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    await create_list(alice, "Home")
    made = await create_list(alice, "Work")
    response = await client.patch(
        f"/lists/{made['id']}", json={"name": "HOME"}, headers=alice.headers
    )
    assert_problem(response, 409)
    assert (await client.get(f"/lists/{made['id']}", headers=alice.headers)).json() == made


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "is_default": True}, []])
async def test_rename_with_a_bad_body_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, body: Any
) -> None:
    made = await create_list(alice)
    response = await client.patch(f"/lists/{made['id']}", json=body, headers=alice.headers)
    assert_problem(response, 422)


async def test_rename_with_a_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice, "First")
    headers = {**alice.headers, "If-Match": made["etag"]}
    first = await client.patch(f"/lists/{made['id']}", json={"name": "Second"}, headers=headers)
    assert first.status_code == 200
    second = await client.patch(f"/lists/{made['id']}", json={"name": "Third"}, headers=headers)
    assert_problem(second, 412)
    weak = {**alice.headers, "If-Match": f"W/{first.json()['etag']}"}
    assert_problem(
        await client.patch(f"/lists/{made['id']}", json={"name": "Third"}, headers=weak), 412
    )
    assert (await client.get(f"/lists/{made['id']}", headers=alice.headers)).json() == first.json()
    star = {**alice.headers, "If-Match": "*"}
    third = await client.patch(f"/lists/{made['id']}", json={"name": "Third"}, headers=star)
    assert third.json()["name"] == "Third"


async def test_concurrent_renames_with_the_same_etag_let_exactly_one_through(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice)
    headers = {**alice.headers, "If-Match": made["etag"]}
    responses = await asyncio.gather(
        *(
            client.patch(f"/lists/{made['id']}", json={"name": f"name {n}"}, headers=headers)
            for n in range(5)
        )
    )
    assert sorted(response.status_code for response in responses) == [200, 412, 412, 412, 412]


async def test_if_match_checks_ownership_first(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice)
    headers = {**bob.headers, "If-Match": '"0"'}
    assert_problem(
        await client.patch(f"/lists/{made['id']}", json={"name": "x"}, headers=headers), 403
    )
    assert_problem(await client.delete(f"/lists/{made['id']}", headers=headers), 403)


# DELETE /lists/{id}


async def test_delete_removes_the_list_and_every_task_in_it(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    doomed = await create_list(alice, "Doomed")
    inside = [await create_task(alice, list_id=doomed["id"]) for _ in range(3)]
    elsewhere = await create_task(alice)
    response = await client.delete(f"/lists/{doomed['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"/lists/{doomed['id']}", headers=alice.headers), 404)
    for task in inside:
        assert_problem(await client.get(f"/tasks/{task['id']}", headers=alice.headers), 404)
    kept = await client.get(f"/tasks/{elsewhere['id']}", headers=alice.headers)
    assert kept.json() == elsewhere
    assert [item["name"] for item in await lists_of(client, alice)] == ["Tasks"]
    assert_problem(await client.delete(f"/lists/{doomed['id']}", headers=alice.headers), 404)


async def test_the_default_list_cannot_be_deleted(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    default = await default_list(client, alice)
    for headers in (alice.headers, {**alice.headers, "If-Match": default["etag"]}):
        body = assert_problem(await client.delete(f"/lists/{default['id']}", headers=headers), 409)
        assert "default" in body["detail"]
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).status_code == 200
    assert await default_list(client, alice) == default


async def test_delete_with_a_stale_if_match_is_412_and_deletes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    made = await create_list(alice)
    task = await create_task(alice, list_id=made["id"])
    await client.patch(f"/lists/{made['id']}", json={"name": "renamed"}, headers=alice.headers)
    stale = {**alice.headers, "If-Match": made["etag"]}
    assert_problem(await client.delete(f"/lists/{made['id']}", headers=stale), 412)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).status_code == 200
    current = (await client.get(f"/lists/{made['id']}", headers=alice.headers)).json()
    fresh = {**alice.headers, "If-Match": current["etag"]}
    assert (await client.delete(f"/lists/{made['id']}", headers=fresh)).status_code == 204


# Idempotency-Key on POST /lists


def keyed(user: ApiUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def test_a_repeated_create_with_a_key_replays_the_first_response(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = f"key-{uuid.uuid4()}"
    first = await client.post("/lists", json={"name": "Once"}, headers=keyed(alice, key))
    again = await client.post("/lists", json={"name": "Once"}, headers=keyed(alice, key))
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert [item["name"] for item in await lists_of(client, alice)] == ["Tasks", "Once"]


async def test_a_key_reused_for_another_name_is_422(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = f"key-{uuid.uuid4()}"
    await client.post("/lists", json={"name": "One"}, headers=keyed(alice, key))
    reused = await client.post("/lists", json={"name": "Two"}, headers=keyed(alice, key))
    assert_problem(reused, 422)
    assert [item["name"] for item in await lists_of(client, alice)] == ["Tasks", "One"]


async def test_a_refused_create_with_a_key_is_replayed_as_refused(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    existing = await create_list(alice, "Taken")
    key = f"key-{uuid.uuid4()}"
    first = await client.post("/lists", json={"name": "taken"}, headers=keyed(alice, key))
    assert_problem(first, 409)
    await client.delete(f"/lists/{existing['id']}", headers=alice.headers)
    again = await client.post("/lists", json={"name": "taken"}, headers=keyed(alice, key))
    assert_problem(again, 409)
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_keyed_create_in_a_new_users_first_request_makes_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key = f"key-{uuid.uuid4()}"
    made = await client.post("/lists", json={"name": "First"}, headers=keyed(alice, key))
    assert made.status_code == 201, made.text
    assert [item["name"] for item in await lists_of(client, alice)] == ["Tasks", "First"]


# Rate limits


async def test_lists_count_against_the_subjects_allowance(
    settings_factory: Callable[..., Settings], alice: ApiUser, bob: ApiUser
) -> None:
    async with serving(settings_factory(rate_limit_tasks="3/day")) as http:
        assert (await http.get("/lists", headers=alice.headers)).status_code == 200
        assert (await http.post("/tasks", json={"title": "x"}, headers=alice.headers)).is_success
        assert (await http.post("/lists", json={"name": "x"}, headers=alice.headers)).is_success
        assert_rate_limited(await http.get("/lists", headers=alice.headers), 3)
        assert_rate_limited(await http.delete(f"/lists/{uuid.uuid4()}", headers=alice.headers), 3)
        assert (await http.get("/lists", headers=bob.headers)).status_code == 200


async def test_lists_need_a_token(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/lists"),
        ("POST", "/lists"),
        ("GET", f"/lists/{uuid.uuid4()}"),
        ("PATCH", f"/lists/{uuid.uuid4()}"),
        ("DELETE", f"/lists/{uuid.uuid4()}"),
    ]:
        response = await client.request(method, path, json={"name": "x"})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unknown_method_on_lists_is_405(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.put(f"/lists/{uuid.uuid4()}", json={"name": "x"}, headers=alice.headers)
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET, PATCH"


async def test_stored_lists_match_what_the_api_says(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, tables: AsyncEngine
) -> None:
    await create_list(alice, "Work")
    async with tables.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(task_lists.c.user_id == alice.sub)
        )
    assert count == len(await lists_of(client, alice)) == 2
