"""Subtasks through the write rules every task write follows: PUT takes no placement,
If-Match and Idempotency-Key on a PATCH that gives a parent, the level limit on a move,
and a refused move that leaves the subtree where it was."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import ApiUser, TaskFactory, assert_problem


async def test_put_with_a_parent_id_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice)
    response = await client.put(
        f"/tasks/{task['id']}",
        json={"title": "x", "parent_id": parent["id"]},
        headers=alice.headers,
    )
    assert_problem(response, 422)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


async def test_a_patch_giving_a_parent_honours_if_match(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice)
    url = f"/tasks/{task['id']}"
    body = {"parent_id": parent["id"], "title": "renamed"}
    stale = {**alice.headers, "If-Match": '"1"'}
    assert_problem(await client.patch(url, json=body, headers=stale), 412)
    assert (await client.get(url, headers=alice.headers)).json() == task
    current = {**alice.headers, "If-Match": task["etag"]}
    response = await client.patch(url, json=body, headers=current)
    assert response.status_code == 200, response.text
    assert (response.json()["parent_id"], response.json()["title"]) == (parent["id"], "renamed")
    assert response.headers["ETag"] == response.json()["etag"] != task["etag"]


async def test_a_patch_giving_a_parent_runs_once_under_an_idempotency_key(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice)
    url = f"/tasks/{task['id']}"
    headers = {**alice.headers, "Idempotency-Key": f"adopt-{uuid.uuid4()}"}
    first = await client.patch(url, json={"parent_id": parent["id"]}, headers=headers)
    assert first.status_code == 200, first.text
    await client.patch(url, json={"parent_id": None}, headers=alice.headers)
    again = await client.patch(url, json={"parent_id": parent["id"]}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await client.get(url, headers=alice.headers)).json()["parent_id"] is None


async def test_a_refused_parent_under_an_idempotency_key_is_replayed_as_refused(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    url = f"/tasks/{task['id']}"
    headers = {**alice.headers, "Idempotency-Key": f"self-{uuid.uuid4()}"}
    first = await client.patch(url, json={"parent_id": task["id"]}, headers=headers)
    assert_problem(first, 422)
    again = await client.patch(url, json={"parent_id": task["id"]}, headers=headers)
    assert_problem(again, 422)
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_a_move_counts_the_moved_tasks_levels(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    top = await create_task(alice)
    middle = await create_task(alice, parent_id=top["id"])
    moved = await create_task(alice)
    below = await create_task(alice, parent_id=moved["id"])
    await create_task(alice, parent_id=below["id"])
    url = f"/tasks/{moved['id']}/move"
    # Under `top` it makes 4 levels; under `middle`, 5.
    ok = await client.post(url, json={"parent_id": top["id"]}, headers=alice.headers)
    assert ok.status_code == 200, ok.text
    refused = await client.post(url, json={"parent_id": middle["id"]}, headers=alice.headers)
    problem = assert_problem(refused, 422)
    assert [error["loc"] for error in problem["errors"]] == [["body", "parent_id"]]
    assert (await client.get(f"/tasks/{moved['id']}", headers=alice.headers)).json() == ok.json()


async def test_a_refused_move_to_another_list_leaves_the_subtree(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    unknown = str(uuid.uuid4())
    for request in (
        client.patch(f"/tasks/{parent['id']}", json={"list_id": unknown}, headers=alice.headers),
        client.post(
            f"/tasks/{parent['id']}/move", json={"list_id": unknown}, headers=alice.headers
        ),
    ):
        assert_problem(await request, 422)
    for task in (parent, child):
        assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


async def test_a_move_back_into_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    made = await client.post("/lists", json={"name": "Work"}, headers=alice.headers)
    task = await create_task(alice, list_id=made.json()["id"])
    default_id = (await client.get("/lists", headers=alice.headers)).json()["items"][0]["id"]
    response = await client.post(
        f"/tasks/{task['id']}/move", json={"list_id": default_id}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["list_id"] == default_id


async def test_a_stale_if_match_on_a_move_to_another_list_moves_no_subtask(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    made = await client.post("/lists", json={"name": "Work"}, headers=alice.headers)
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    stale = {**alice.headers, "If-Match": '"1"'}
    body = {"list_id": made.json()["id"]}
    assert_problem(await client.patch(f"/tasks/{parent['id']}", json=body, headers=stale), 412)
    for task in (parent, child):
        assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task
    current = {**alice.headers, "If-Match": parent["etag"]}
    moved = await client.patch(f"/tasks/{parent['id']}", json=body, headers=current)
    assert moved.status_code == 200, moved.text
    follower = (await client.get(f"/tasks/{child['id']}", headers=alice.headers)).json()
    assert follower["list_id"] == made.json()["id"]
    assert follower["etag"] != child["etag"]
