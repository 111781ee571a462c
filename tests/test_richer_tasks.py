"""Version 2 task fields: priority, due_at and tags, their defaults and their rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem


async def test_a_new_task_gets_the_defaults(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.post("/tasks", json={"title": "plain"}, headers=alice.headers)
    assert response.status_code == 201
    task = response.json()
    assert task["priority"] == "none"
    assert task["due_at"] is None
    assert task["tags"] == []


async def test_create_stores_every_new_field(client: httpx.AsyncClient, alice: ApiUser) -> None:
    body = {
        "title": "Pay rent",
        "priority": "high",
        "due_at": "2026-12-01T17:00:00+01:00",
        "tags": ["home", "money"],
    }
    created = (await client.post("/tasks", json=body, headers=alice.headers)).json()
    assert created["priority"] == "high"
    assert created["due_at"] == "2026-12-01T16:00:00Z"
    assert created["tags"] == ["home", "money"]
    fetched = (await client.get(f"/tasks/{created['id']}", headers=alice.headers)).json()
    assert fetched == created


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("2026-12-01T17:00:00+01:00", "2026-12-01T16:00:00Z"),
        ("2026-12-01T17:00:00Z", "2026-12-01T17:00:00Z"),
        ("2026-12-01t17:00:00z", "2026-12-01T17:00:00Z"),
        ("2026-12-01T17:00:00-05:30", "2026-12-01T22:30:00Z"),
        ("2026-12-01T23:30:00.123456-01:00", "2026-12-02T00:30:00.123456Z"),
        ("2026-12-01T17:00:00+00:00", "2026-12-01T17:00:00Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ],
)
async def test_due_at_is_returned_in_utc(
    client: httpx.AsyncClient, alice: ApiUser, sent: str, returned: str
) -> None:
    response = await client.post(
        "/tasks", json={"title": "t", "due_at": sent}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["due_at"] == returned
    fetched = await client.get(f"/tasks/{response.json()['id']}", headers=alice.headers)
    assert fetched.json()["due_at"] == returned


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (["  Work ", "HOME"], ["work", "home"]),
        (["work", "Work", " WORK "], ["work"]),
        (["b", "a", "b", "c", "a"], ["b", "a", "c"]),
        (["\u3000Été\u00a0"], ["été"]),
        (["ÉCOLE", "école"], ["école"]),
        (["İstanbul"], ["i̇stanbul"]),  # str.lower(): İ becomes i + a combining dot
        (["x" * 50], ["x" * 50]),
        ([" " + "y" * 50 + " "], ["y" * 50]),
        (["🙂", "two words"], ["🙂", "two words"]),
        ([f"t{n}" for n in range(20)], [f"t{n}" for n in range(20)]),
        ([], []),
    ],
)
async def test_tags_are_trimmed_lowered_and_deduplicated_keeping_the_first(
    client: httpx.AsyncClient, alice: ApiUser, sent: list[str], stored: list[str]
) -> None:
    response = await client.post("/tasks", json={"title": "t", "tags": sent}, headers=alice.headers)
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == stored
    fetched = await client.get(f"/tasks/{response.json()['id']}", headers=alice.headers)
    assert fetched.json()["tags"] == stored


async def test_a_tag_that_lowering_makes_too_long_is_422(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    # 50 characters as sent, 51 once lower-cased (İ lowers to two code points).
    response = await client.post(
        "/tasks", json={"title": "t", "tags": ["İ" + "x" * 49]}, headers=alice.headers
    )
    problem = assert_problem(response, 422)
    assert any("tags" in error["loc"] for error in problem["errors"])


async def test_put_returns_omitted_new_fields_to_their_defaults(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(
        alice, priority="high", due_at="2026-12-01T17:00:00Z", tags=["a"], description="d"
    )
    response = await client.put(
        f"/tasks/{task['id']}", json={"title": "replaced"}, headers=alice.headers
    )
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["priority"] == "none"
    assert replaced["due_at"] is None
    assert replaced["tags"] == []
    assert replaced["description"] is None


async def test_put_sets_the_new_fields(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    body = {"title": "t", "priority": "low", "due_at": "2027-01-01T00:00:00+02:00", "tags": ["X"]}
    replaced = (await client.put(f"/tasks/{task['id']}", json=body, headers=alice.headers)).json()
    assert (replaced["priority"], replaced["due_at"], replaced["tags"]) == (
        "low",
        "2026-12-31T22:00:00Z",
        ["x"],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"priority": "medium"},
        {"due_at": "2026-12-24T18:00:00+01:00"},
        {"due_at": None},
        {"tags": [" New ", "new", "other"]},
        {"tags": []},
        {"priority": "low", "tags": ["a"]},
        {"title": "renamed", "due_at": "2027-01-01T00:00:00Z"},
    ],
)
async def test_patch_changes_only_the_given_fields(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, change: dict[str, Any]
) -> None:
    task = await create_task(
        alice, priority="high", due_at="2026-12-01T17:00:00Z", tags=["keep"], description="d"
    )
    response = await client.patch(f"/tasks/{task['id']}", json=change, headers=alice.headers)
    assert response.status_code == 200, response.text
    patched = response.json()
    expected = {**task, **change}
    if "due_at" in change and change["due_at"] is not None:
        expected["due_at"] = patched["due_at"]
        assert patched["due_at"].endswith("Z")
    if "tags" in change:
        expected["tags"] = list(dict.fromkeys(tag.strip().lower() for tag in change["tags"]))
    for field in ("title", "description", "completed", "priority", "due_at", "tags"):
        assert patched[field] == expected[field], field
    assert patched["created_at"] == task["created_at"]
    assert patched["updated_at"] > task["updated_at"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"priority": None}, "priority"),
        ({"priority": "urgent"}, "priority"),
        ({"tags": None}, "tags"),
        ({"tags": ["ok", ""]}, "tags"),
        ({"tags": ["tab\there"]}, "tags"),
        ({"due_at": "2026-12-01T17:00:00"}, "due_at"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2026-12-01 17:00:00Z"}, "due_at"),
        ({"due_at": "0000-01-01T00:00:00Z"}, "due_at"),
        ({"etag": '"7"'}, "etag"),
    ],
)
async def test_a_bad_patch_is_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_task: TaskFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    task = await create_task(alice, priority="low", tags=["keep"])
    response = await client.patch(f"/tasks/{task['id']}", json=change, headers=alice.headers)
    problem = assert_problem(response, 422)
    assert any(field in error["loc"] for error in problem["errors"])
    after = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert after == task


async def test_an_empty_patch_is_still_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.patch(f"/tasks/{task['id']}", json={}, headers=alice.headers)
    assert_problem(response, 422)
