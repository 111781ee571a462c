"""Manual order (API.md, "Version 3: subtasks and manual order"): `position`, `sort=position`
and `POST /tasks/{id}/move` with `after`, `parent_id` and `list_id`, If-Match and
Idempotency-Key."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.test_lists import ListFactory


@pytest.fixture
def create_list(client: httpx.AsyncClient) -> ListFactory:
    return ListFactory(client)


async def _order(client: httpx.AsyncClient, user: ApiUser, **params: Any) -> list[str]:
    given = {"sort": "position", "top_level": "true", "limit": 200, **params}
    query = {name: value for name, value in given.items() if value is not None}
    response = await client.get("/tasks", params=query, headers=user.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()["items"]]


async def _move(
    client: httpx.AsyncClient, user: ApiUser, task: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(f"/tasks/{task['id']}/move", json=body, headers=user.headers)


async def _tasks(create_task: TaskFactory, user: ApiUser, *titles: str) -> dict[str, Any]:
    return {title: await create_task(user, title=title) for title in titles}


async def test_new_tasks_go_after_their_siblings(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    await _tasks(create_task, alice, "a", "b", "c")
    assert await _order(client, alice) == ["a", "b", "c"]
    assert await _order(client, alice, sort="-position") == ["c", "b", "a"]


async def test_move_after_a_sibling(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b", "c", "d")
    response = await _move(client, alice, tasks["d"], after=tasks["a"]["id"])
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == response.json()["etag"]
    assert await _order(client, alice) == ["a", "d", "b", "c"]
    response = await _move(client, alice, tasks["a"], after=tasks["c"]["id"])
    assert await _order(client, alice) == ["d", "b", "c", "a"]


async def test_move_first_and_last(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b", "c")
    assert (await _move(client, alice, tasks["c"], after=None)).status_code == 200
    assert await _order(client, alice) == ["c", "a", "b"]
    assert (await _move(client, alice, tasks["c"])).status_code == 200
    assert await _order(client, alice) == ["a", "b", "c"]


async def test_a_move_changes_only_the_moved_task(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b", "c")
    start = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    moved = (await _move(client, alice, tasks["c"], after=tasks["a"]["id"])).json()
    changes = (
        await client.get("/tasks/changes", params={"since": start}, headers=alice.headers)
    ).json()
    assert changes["tasks"] == [moved]
    for title in ("a", "b"):
        same = await client.get(f"/tasks/{tasks[title]['id']}", headers=alice.headers)
        assert same.json() == tasks[title]


async def test_sixty_moves_into_one_gap_keep_positions_short_and_ordered(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "first", "last")
    moved = [await create_task(alice, title=f"m{n:03}") for n in range(60)]
    # Each one right after "first": the gap before the previous one keeps halving.
    for task in moved:
        response = await _move(client, alice, task, after=tasks["first"]["id"])
        assert response.status_code == 200, response.text
        assert len(response.json()["position"]) < 256
    expected = ["first", *[t["title"] for t in reversed(moved)], "last"]
    assert await _order(client, alice) == expected


async def test_move_under_a_new_parent_after_a_sibling(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "parent", "x")
    first = await create_task(alice, title="one", parent_id=tasks["parent"]["id"])
    await create_task(alice, title="two", parent_id=tasks["parent"]["id"])
    response = await _move(
        client, alice, tasks["x"], parent_id=tasks["parent"]["id"], after=first["id"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == tasks["parent"]["id"]
    assert await _order(client, alice, top_level=None, parent_id=tasks["parent"]["id"]) == [
        "one",
        "x",
        "two",
    ]


async def test_move_to_top_level(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "parent", "b")
    child = await create_task(alice, title="child", parent_id=tasks["parent"]["id"])
    response = await _move(client, alice, child, parent_id=None, after=tasks["parent"]["id"])
    assert response.status_code == 200, response.text
    assert await _order(client, alice) == ["parent", "child", "b"]


async def test_move_to_another_list_is_top_level_there_with_its_subtasks(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    there = await create_task(alice, title="there", list_id=work["id"])
    tasks = await _tasks(create_task, alice, "parent")
    child = await create_task(alice, title="child", parent_id=tasks["parent"]["id"])
    grandchild = await create_task(alice, title="grandchild", parent_id=child["id"])
    response = await _move(client, alice, child, list_id=work["id"], after=None)
    assert response.status_code == 200, response.text
    assert (response.json()["list_id"], response.json()["parent_id"]) == (work["id"], None)
    assert await _order(client, alice, list_id=work["id"]) == ["child", "there"]
    follower = (await client.get(f"/tasks/{grandchild['id']}", headers=alice.headers)).json()
    assert (follower["list_id"], follower["parent_id"]) == (work["id"], child["id"])
    assert there["id"] != follower["id"]


async def test_move_into_an_unknown_list_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    bobs = (await client.get("/lists", headers=bob.headers)).json()["items"][0]["id"]
    for list_id in (bobs, str(uuid.uuid4())):
        response = await _move(client, alice, task, list_id=list_id)
        problem = assert_problem(response, 422)
        assert [e["loc"] for e in problem["errors"]] == [["body", "list_id"]]
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


@pytest.mark.parametrize("which", ["itself", "a child", "another list's task", "unknown"])
async def test_after_must_be_a_new_sibling(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_task: TaskFactory,
    create_list: ListFactory,
    which: str,
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b")
    child = await create_task(alice, parent_id=tasks["a"]["id"])
    work = await create_list(alice, "Work")
    elsewhere = await create_task(alice, list_id=work["id"])
    after = {
        "itself": tasks["b"]["id"],
        "a child": child["id"],
        "another list's task": elsewhere["id"],
        "unknown": str(uuid.uuid4()),
    }[which]
    problem = assert_problem(await _move(client, alice, tasks["b"], after=after), 422)
    assert [e["loc"] for e in problem["errors"]] == [["body", "after"]]
    assert (await client.get(f"/tasks/{tasks['b']['id']}", headers=alice.headers)).json() == (
        tasks["b"]
    )


async def test_move_with_a_parent_that_breaks_the_rules_is_422(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a")
    child = await create_task(alice, parent_id=tasks["a"]["id"])
    bobs = await create_task(bob)
    for parent in (child["id"], tasks["a"]["id"], bobs["id"]):
        problem = assert_problem(await _move(client, alice, tasks["a"], parent_id=parent), 422)
        assert [e["loc"] for e in problem["errors"]] == [["body", "parent_id"]]


async def test_move_of_another_users_task_is_403_and_unknown_404(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    bobs = await create_task(bob)
    assert_problem(await _move(client, alice, bobs, after=None), 403)
    assert_problem(await _move(client, alice, {"id": str(uuid.uuid4())}, after=None), 404)
    assert (await client.get(f"/tasks/{bobs['id']}", headers=bob.headers)).json() == bobs


@pytest.mark.parametrize(
    "body",
    [{"after": 5}, {"after": "x"}, {"position": "a"}, {"parent_id": True}, [], "move"],
)
async def test_a_malformed_move_body_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, body: Any
) -> None:
    task = await create_task(alice)
    response = await client.post(f"/tasks/{task['id']}/move", json=body, headers=alice.headers)
    assert_problem(response, 422)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


async def test_move_honours_if_match(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b")
    stale = {**alice.headers, "If-Match": '"1"'}
    url = f"/tasks/{tasks['b']['id']}/move"
    assert_problem(await client.post(url, json={"after": None}, headers=stale), 412)
    assert await _order(client, alice) == ["a", "b"]
    current = {**alice.headers, "If-Match": tasks["b"]["etag"]}
    response = await client.post(url, json={"after": None}, headers=current)
    assert response.status_code == 200, response.text
    assert await _order(client, alice) == ["b", "a"]


async def test_move_with_an_idempotency_key_runs_once(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = await _tasks(create_task, alice, "a", "b", "c")
    headers = {**alice.headers, "Idempotency-Key": "move-c-first"}
    url = f"/tasks/{tasks['c']['id']}/move"
    first = await client.post(url, json={"after": None}, headers=headers)
    assert first.status_code == 200, first.text
    await _move(client, alice, tasks["a"], after=None)
    again = await client.post(url, json={"after": None}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _order(client, alice) == ["a", "c", "b"]
    other = await client.post(url, json={"after": tasks["a"]["id"]}, headers=headers)
    assert_problem(other, 422)


async def test_moving_between_tasks_that_share_a_position_renumbers_the_group(
    app: FastAPI, client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    """Tasks from before manual order share the key the migration gave them (ordered by
    id): a move between two of them gives the group new positions, in the order shown,
    each a change in sync."""
    await _tasks(create_task, alice, "a", "b", "c", "d")
    async with app.state.resources.database.engine.begin() as connection:
        await connection.execute(text("UPDATE tasks SET position = 'a'"))
    shown = await _order(client, alice)
    ids = {
        t["title"]: t["id"]
        for t in (await client.get("/tasks", headers=alice.headers)).json()["items"]
    }
    start = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    response = await _move(client, alice, {"id": ids[shown[3]]}, after=ids[shown[0]])
    assert response.status_code == 200, response.text
    assert await _order(client, alice) == [shown[0], shown[3], shown[1], shown[2]]
    changes = (
        await client.get("/tasks/changes", params={"since": start}, headers=alice.headers)
    ).json()
    assert {t["title"] for t in changes["tasks"]} == set(shown)
    positions = [t["position"] for t in changes["tasks"]]
    assert len(set(positions)) == 4


async def test_sort_position_pages_with_a_cursor(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    await _tasks(create_task, alice, *[f"t{n}" for n in range(5)])
    seen: list[str] = []
    params: dict[str, Any] = {"sort": "position", "limit": 2}
    while True:
        page = (await client.get("/tasks", params=params, headers=alice.headers)).json()
        seen += [task["title"] for task in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"t{n}" for n in range(5)]
