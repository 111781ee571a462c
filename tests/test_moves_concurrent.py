"""Moves at the same time (API.md: "two devices that reorder the same list at the same time
both see their moves applied"): none is lost, the order stays total, and concurrent moves
never make a cycle or a fifth level."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import ApiUser, TaskFactory


async def _siblings(
    client: httpx.AsyncClient, user: ApiUser, **params: Any
) -> list[dict[str, Any]]:
    query = {"sort": "position", "limit": 200, "top_level": "true", **params}
    response = await client.get("/tasks", params=query, headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _move(client: httpx.AsyncClient, user: ApiUser, task_id: str, **body: Any) -> Any:
    return client.post(f"/tasks/{task_id}/move", json=body, headers=user.headers)


async def test_two_devices_reordering_one_list_both_keep_their_moves(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(5):
        for task in await _siblings(client, alice):
            await client.delete(f"/tasks/{task['id']}", headers=alice.headers)
        ids = [(await create_task(alice, title=t))["id"] for t in "abcdef"]
        # One device moves f after a, the other e first, at the same time.
        first, second = await asyncio.gather(
            _move(client, alice, ids[5], after=ids[0]), _move(client, alice, ids[4], after=None)
        )
        assert (first.status_code, second.status_code) == (200, 200), first.text + second.text
        order = [t["title"] for t in await _siblings(client, alice)]
        assert order == ["e", "a", "f", "b", "c", "d"]


async def test_many_moves_into_the_same_gap_all_land_in_a_total_order(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    anchor = await create_task(alice, title="anchor")
    last = await create_task(alice, title="last")
    moving = [(await create_task(alice, title=f"m{n}"))["id"] for n in range(12)]
    responses = await asyncio.gather(
        *(_move(client, alice, task_id, after=anchor["id"]) for task_id in moving)
    )
    assert [r.status_code for r in responses] == [200] * len(moving)
    order = await _siblings(client, alice)
    titles = [t["title"] for t in order]
    assert (titles[0], titles[-1]) == ("anchor", "last")
    assert sorted(titles[1:-1]) == sorted(f"m{n}" for n in range(12))
    # Each move was applied after the ones before it: no two siblings share a position.
    positions = [t["position"] for t in order]
    assert len(set(positions)) == len(positions)
    assert positions == sorted(positions)
    # The same order on every read.
    again = await _siblings(client, alice)
    assert [t["id"] for t in again] == [t["id"] for t in order]
    assert last["id"] == order[-1]["id"]


async def test_crossing_moves_never_make_a_cycle(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(5):
        one = await create_task(alice)
        two = await create_task(alice)
        responses = await asyncio.gather(
            _move(client, alice, one["id"], parent_id=two["id"]),
            _move(client, alice, two["id"], parent_id=one["id"]),
        )
        assert sorted(r.status_code for r in responses) == [200, 422]
        parents = [
            (await client.get(f"/tasks/{t['id']}", headers=alice.headers)).json()["parent_id"]
            for t in (one, two)
        ]
        assert parents.count(None) == 1


async def test_a_subtask_created_while_its_parent_moves_lists_follows_it(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    work = await client.post("/lists", json={"name": "Work"}, headers=alice.headers)
    work_id = work.json()["id"]
    for _ in range(5):
        parent = await create_task(alice)
        created, moved = await asyncio.gather(
            client.post(
                "/tasks", json={"title": "child", "parent_id": parent["id"]}, headers=alice.headers
            ),
            _move(client, alice, parent["id"], list_id=work_id),
        )
        assert (created.status_code, moved.status_code) == (201, 200)
        child = (await client.get(f"/tasks/{created.json()['id']}", headers=alice.headers)).json()
        assert child["list_id"] == work_id


async def test_a_subtask_created_while_its_parent_is_deleted_goes_with_it(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(10):
        parent = await create_task(alice)
        created, deleted = await asyncio.gather(
            client.post(
                "/tasks", json={"title": "child", "parent_id": parent["id"]}, headers=alice.headers
            ),
            client.delete(f"/tasks/{parent['id']}", headers=alice.headers),
        )
        assert deleted.status_code == 204, deleted.text
        assert created.status_code in (201, 422), created.text
        if created.status_code == 201:
            child = await client.get(f"/tasks/{created.json()['id']}", headers=alice.headers)
            assert child.status_code == 404, child.text


async def test_a_subtask_created_while_its_parent_is_patched_to_another_list_follows_it(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    work = await client.post("/lists", json={"name": "Work"}, headers=alice.headers)
    work_id = work.json()["id"]
    for _ in range(10):
        parent = await create_task(alice)
        created, moved = await asyncio.gather(
            client.post(
                "/tasks", json={"title": "child", "parent_id": parent["id"]}, headers=alice.headers
            ),
            client.patch(
                f"/tasks/{parent['id']}", json={"list_id": work_id}, headers=alice.headers
            ),
        )
        assert (created.status_code, moved.status_code) == (201, 200)
        child = (await client.get(f"/tasks/{created.json()['id']}", headers=alice.headers)).json()
        assert child["list_id"] == work_id
