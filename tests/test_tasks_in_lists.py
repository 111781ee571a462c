"""Tasks' `list_id` (API.md, "Version 3: task lists"): on create, on PATCH (moving), as a
filter of `GET /tasks`; never moved by PUT."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import SORTS, ApiUser, TaskFactory, assert_problem
from tests.test_lists import ListFactory, default_list


@pytest.fixture
def create_list(client: httpx.AsyncClient) -> ListFactory:
    return ListFactory(client)


async def test_every_task_names_its_list(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    default_id = (await default_list(client, alice))["id"]
    assert task["list_id"] == default_id
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task
    page = (await client.get("/tasks", headers=alice.headers)).json()
    assert [item["list_id"] for item in page["items"]] == [default_id]


async def test_create_in_one_of_your_lists(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    response = await client.post(
        "/tasks", json={"title": "report", "list_id": work["id"]}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["list_id"] == work["id"]


async def test_create_with_a_null_list_id_uses_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post(
        "/tasks", json={"title": "x", "list_id": None}, headers=alice.headers
    )
    assert response.json()["list_id"] == (await default_list(client, alice))["id"]


async def test_a_list_id_that_is_not_yours_is_422_and_reveals_nothing(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    bobs = await create_list(bob, "Bob's")
    bobs_default = await default_list(client, bob)
    answers = []
    for list_id in (bobs["id"], bobs_default["id"], str(uuid.uuid4())):
        response = await client.post(
            "/tasks", json={"title": "sneaky", "list_id": list_id}, headers=alice.headers
        )
        body = assert_problem(response, 422)
        assert [error["loc"] for error in body["errors"]] == [["body", "list_id"]]
        answers.append(response.content)
    # Another user's list and no list at all get the very same answer.
    assert len(set(answers)) == 1
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0
    assert (await client.get("/tasks", headers=bob.headers)).json()["total"] == 0


@pytest.mark.parametrize("list_id", ["not-a-uuid", 5, "", ["x"]])
async def test_a_list_id_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, alice: ApiUser, list_id: Any
) -> None:
    response = await client.post(
        "/tasks", json={"title": "x", "list_id": list_id}, headers=alice.headers
    )
    body = assert_problem(response, 422)
    assert ["body", "list_id"] in [error["loc"] for error in body["errors"]]


async def test_a_keyed_create_with_a_foreign_list_is_refused_and_replayed(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    bobs = await create_list(bob)
    headers = {**alice.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    body = {"title": "x", "list_id": bobs["id"]}
    first = await client.post("/tasks", json=body, headers=headers)
    assert_problem(first, 422)
    again = await client.post("/tasks", json=body, headers=headers)
    assert again.status_code == 422
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0


async def test_a_keyed_first_create_of_a_new_user_makes_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    headers = {**alice.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await client.post("/tasks", json={"title": "x"}, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/tasks", json={"title": "x"}, headers=headers)
    assert again.content == first.content
    assert first.json()["list_id"] == (await default_list(client, alice))["id"]


# PATCH moves a task


async def test_patch_with_a_list_id_moves_the_task(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    task = await create_task(alice, tags=["keep"])
    work = await create_list(alice, "Work")
    response = await client.patch(
        f"/tasks/{task['id']}", json={"list_id": work["id"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["list_id"] == work["id"]
    assert moved["etag"] != task["etag"]
    assert moved["updated_at"] > task["updated_at"]
    assert {key: moved[key] for key in ("title", "tags", "created_at")} == {
        key: task[key] for key in ("title", "tags", "created_at")
    }


async def test_patch_with_the_current_list_id_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    for headers in (alice.headers, {**alice.headers, "If-Match": task["etag"]}):
        response = await client.patch(
            f"/tasks/{task['id']}", json={"list_id": task["list_id"]}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == task
        assert response.headers["etag"] == task["etag"]
    stale = {**alice.headers, "If-Match": '"0"'}
    response = await client.patch(
        f"/tasks/{task['id']}", json={"list_id": task["list_id"]}, headers=stale
    )
    assert_problem(response, 412)


async def test_patch_moving_and_editing_does_both(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    task = await create_task(alice)
    work = await create_list(alice)
    response = await client.patch(
        f"/tasks/{task['id']}",
        json={"list_id": work["id"], "title": "renamed", "completed": True},
        headers=alice.headers,
    )
    moved = response.json()
    assert (moved["list_id"], moved["title"], moved["completed"]) == (work["id"], "renamed", True)


async def test_patch_to_a_list_that_is_not_yours_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
    create_task: TaskFactory,
    create_list: ListFactory,
) -> None:
    task = await create_task(alice)
    bobs = await create_list(bob)
    for list_id in (bobs["id"], str(uuid.uuid4())):
        response = await client.patch(
            f"/tasks/{task['id']}", json={"list_id": list_id}, headers=alice.headers
        )
        body = assert_problem(response, 422)
        assert [error["loc"] for error in body["errors"]] == [["body", "list_id"]]
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


async def test_patch_with_a_null_list_id_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.patch(
        f"/tasks/{task['id']}", json={"list_id": None}, headers=alice.headers
    )
    assert_problem(response, 422)


async def test_moving_another_users_task_is_403(
    client: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
    create_task: TaskFactory,
    create_list: ListFactory,
) -> None:
    task = await create_task(alice)
    bobs = await create_list(bob)
    response = await client.patch(
        f"/tasks/{task['id']}", json={"list_id": bobs["id"]}, headers=bob.headers
    )
    assert_problem(response, 403)
    assert_problem(
        await client.patch(
            f"/tasks/{uuid.uuid4()}", json={"list_id": bobs["id"]}, headers=bob.headers
        ),
        404,
    )


# PUT never moves a task


async def test_put_leaves_the_task_in_its_list(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    work = await create_list(alice)
    task = await create_task(alice, list_id=work["id"])
    response = await client.put(f"/tasks/{task['id']}", json={"title": "v2"}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["list_id"] == work["id"]


async def test_put_takes_no_list_id(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    work = await create_list(alice)
    response = await client.put(
        f"/tasks/{task['id']}", json={"title": "x", "list_id": work["id"]}, headers=alice.headers
    )
    assert_problem(response, 422)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


# GET /tasks?list_id=


async def test_the_list_filter_lists_one_list(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    work = await create_list(alice, "Work")
    at_work = {(await create_task(alice, list_id=work["id"]))["id"] for _ in range(3)}
    at_home = {(await create_task(alice))["id"] for _ in range(2)}
    default_id = (await default_list(client, alice))["id"]
    for list_id, expected in ((work["id"], at_work), (default_id, at_home)):
        page = (
            await client.get("/tasks", params={"list_id": list_id}, headers=alice.headers)
        ).json()
        assert {task["id"] for task in page["items"]} == expected
        assert page["total"] == len(expected)
    everything = (await client.get("/tasks", headers=alice.headers)).json()
    assert everything["total"] == 5


async def test_the_list_filter_combines_with_every_other_filter(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    work = await create_list(alice)
    wanted = await create_task(
        alice,
        list_id=work["id"],
        title="Call the plumber",
        tags=["home"],
        priority="high",
        completed=False,
        due_at="2026-12-10T09:00:00Z",
    )
    # Each of these differs from `wanted` in one respect.
    await create_task(alice, title="Call the plumber", tags=["home"], priority="high")
    await create_task(alice, list_id=work["id"], title="Call the plumber", completed=True)
    await create_task(alice, list_id=work["id"], title="Email", tags=["home"], priority="high")
    params = {
        "list_id": work["id"],
        "completed": "false",
        "q": "plumber",
        "tag": "home",
        "priority": "high",
        "due_before": "2026-12-11T00:00:00Z",
        "due_after": "2026-12-01T00:00:00Z",
    }
    page = (await client.get("/tasks", params=params, headers=alice.headers)).json()
    assert [task["id"] for task in page["items"]] == [wanted["id"]]
    assert page["total"] == 1


@pytest.mark.parametrize("sort", SORTS)
async def test_cursor_pages_of_one_list_hold_exactly_its_tasks(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_list: ListFactory,
    create_task: TaskFactory,
    sort: str,
) -> None:
    work = await create_list(alice)
    priorities = ["none", "low", "medium", "high"]
    wanted = set()
    for number in range(7):
        fields: dict[str, Any] = {"title": f"t{number % 3}", "priority": priorities[number % 4]}
        if number % 2:
            fields["due_at"] = f"2026-12-0{number}T10:00:00Z"
        wanted.add((await create_task(alice, list_id=work["id"], **fields))["id"])
        await create_task(alice, **fields)
    seen: list[str] = []
    params: dict[str, Any] = {"list_id": work["id"], "sort": sort, "limit": 2}
    while True:
        page = (await client.get("/tasks", params=params, headers=alice.headers)).json()
        assert page["total"] == 7
        seen += [task["id"] for task in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(wanted)
    assert len(seen) == len(wanted)


async def test_a_cursor_of_one_list_is_refused_for_another(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    work = await create_list(alice)
    for _ in range(2):
        await create_task(alice, list_id=work["id"])
    first = await client.get(
        "/tasks", params={"list_id": work["id"], "limit": 1}, headers=alice.headers
    )
    cursor = first.json()["next_cursor"]
    for other in ({}, {"list_id": (await default_list(client, alice))["id"]}):
        response = await client.get(
            "/tasks", params={**other, "limit": 1, "cursor": cursor}, headers=alice.headers
        )
        assert_problem(response, 422)


async def test_the_list_filter_with_another_users_list_finds_nothing(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    await create_task(bob)
    bobs_default = await default_list(client, bob)
    page = await client.get("/tasks", params={"list_id": bobs_default["id"]}, headers=alice.headers)
    assert page.status_code == 200
    assert (page.json()["items"], page.json()["total"]) == ([], 0)


async def test_a_list_filter_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.get("/tasks", params={"list_id": "nope"}, headers=alice.headers)
    body = assert_problem(response, 422)
    assert ["query", "list_id"] in [error["loc"] for error in body["errors"]]
