"""The task routes of API.md, row by row."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from tests.conftest import TASK_FIELDS, ApiUser, TaskFactory, assert_problem


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), f"{value} is not RFC 3339 UTC"
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    return parsed


async def test_create_returns_201_location_and_the_task(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post(
        "/tasks", json={"title": "Buy milk", "description": "2 litres"}, headers=alice.headers
    )
    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_FIELDS
    assert response.headers["location"] == f"/tasks/{task['id']}"
    uuid.UUID(task["id"])
    assert task["title"] == "Buy milk"
    assert task["description"] == "2 litres"
    assert task["completed"] is False
    assert task["completed_at"] is None
    assert parse_time(task["created_at"]) == parse_time(task["updated_at"])


async def test_create_defaults_description_to_null(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post("/tasks", json={"title": "x"}, headers=alice.headers)
    assert response.status_code == 201
    assert response.json()["description"] is None


async def test_create_completed_sets_completed_at(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post(
        "/tasks", json={"title": "done already", "completed": True}, headers=alice.headers
    )
    task = response.json()
    assert task["completed"] is True
    assert parse_time(task["completed_at"]) == parse_time(task["created_at"])


async def test_get_returns_the_stored_task(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, description="notes")
    response = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == task


async def test_get_unknown_task_is_404(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.get(f"/tasks/{uuid.uuid4()}", headers=alice.headers)
    assert_problem(response, 404)


async def test_task_id_that_is_not_a_uuid_is_422(client: httpx.AsyncClient, alice: ApiUser) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = await client.request(
            method, "/tasks/not-a-uuid", json={"title": "x"}, headers=alice.headers
        )
        body = assert_problem(response, 422)
        assert ["path", "task_id"] in [error["loc"] for error in body["errors"]]
    response = await client.patch("/tasks/not-a-uuid/toggle", headers=alice.headers)
    assert_problem(response, 422)


async def test_put_replaces_every_field(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, description="old", completed=True)
    response = await client.put(
        f"/tasks/{task['id']}", json={"title": "  New title "}, headers=alice.headers
    )
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "New title"
    assert replaced["description"] is None
    assert replaced["completed"] is False
    assert replaced["completed_at"] is None
    assert replaced["created_at"] == task["created_at"]
    assert parse_time(replaced["updated_at"]) > parse_time(task["updated_at"])


async def test_put_requires_a_title(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.put(
        f"/tasks/{task['id']}", json={"description": "x"}, headers=alice.headers
    )
    assert_problem(response, 422)
    unchanged = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert unchanged.json() == task


async def test_put_on_unknown_task_is_404(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.put(
        f"/tasks/{uuid.uuid4()}", json={"title": "x"}, headers=alice.headers
    )
    assert_problem(response, 404)


async def test_patch_changes_only_given_fields(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, title="keep", description="old")
    response = await client.patch(
        f"/tasks/{task['id']}", json={"description": None}, headers=alice.headers
    )
    assert response.status_code == 200
    patched = response.json()
    assert patched["title"] == "keep"
    assert patched["description"] is None
    assert patched["completed"] is False
    assert parse_time(patched["updated_at"]) > parse_time(task["updated_at"])
    assert patched["created_at"] == task["created_at"]


async def test_patch_with_empty_body_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.patch(f"/tasks/{task['id']}", json={}, headers=alice.headers)
    assert_problem(response, 422)


async def test_patch_refuses_null_title_and_completed(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    for body in ({"title": None}, {"completed": None}):
        response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
        assert_problem(response, 422)
    unchanged = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert unchanged.json() == task


async def test_completed_at_follows_the_latest_completion(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    url = f"/tasks/{task['id']}"
    done = (await client.patch(url, json={"completed": True}, headers=alice.headers)).json()
    assert done["completed"] is True
    first_completion = parse_time(done["completed_at"])
    assert first_completion == parse_time(done["updated_at"])

    # An update that leaves a completed task completed keeps completed_at.
    still = (
        await client.patch(url, json={"completed": True, "title": "t2"}, headers=alice.headers)
    ).json()
    assert parse_time(still["completed_at"]) == first_completion
    replaced = (
        await client.put(url, json={"title": "t3", "completed": True}, headers=alice.headers)
    ).json()
    assert parse_time(replaced["completed_at"]) == first_completion

    reopened = (await client.patch(url, json={"completed": False}, headers=alice.headers)).json()
    assert reopened["completed_at"] is None
    again = (await client.patch(url, json={"completed": True}, headers=alice.headers)).json()
    assert parse_time(again["completed_at"]) > first_completion


async def test_toggle_flips_completion_both_ways(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    url = f"/tasks/{task['id']}/toggle"
    response = await client.patch(url, headers=alice.headers)
    assert response.status_code == 200
    toggled = response.json()
    assert toggled["completed"] is True
    assert parse_time(toggled["completed_at"]) == parse_time(toggled["updated_at"])
    back = (await client.patch(url, headers=alice.headers)).json()
    assert back["completed"] is False
    assert back["completed_at"] is None
    assert back["title"] == task["title"]


async def test_toggle_unknown_task_is_404(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.patch(f"/tasks/{uuid.uuid4()}/toggle", headers=alice.headers)
    assert_problem(response, 404)


async def test_delete_returns_204_and_the_task_is_gone(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.delete(f"/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"/tasks/{task['id']}", headers=alice.headers), 404)
    assert_problem(await client.delete(f"/tasks/{task['id']}", headers=alice.headers), 404)


async def test_every_task_route_needs_a_token(client: httpx.AsyncClient) -> None:
    task_url = f"/tasks/{uuid.uuid4()}"
    for method, url in [
        ("GET", "/tasks"),
        ("POST", "/tasks"),
        ("GET", task_url),
        ("PUT", task_url),
        ("PATCH", task_url),
        ("DELETE", task_url),
        ("PATCH", f"{task_url}/toggle"),
    ]:
        response = await client.request(method, url, json={"title": "x"})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
