"""Simultaneous requests: atomic toggles, no lost creates, no lost field updates."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import ApiUser, TaskFactory


async def test_simultaneous_toggles_end_in_the_right_state(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    url = f"/tasks/{task['id']}/toggle"
    toggles = 25
    responses = await asyncio.gather(
        *(client.patch(url, headers=alice.headers) for _ in range(toggles))
    )
    assert [r.status_code for r in responses] == [200] * toggles
    # Each toggle saw a distinct previous state: exactly half-ish flipped each way.
    states = [r.json()["completed"] for r in responses]
    assert states.count(True) in (toggles // 2, toggles // 2 + 1)
    final = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert final["completed"] is (toggles % 2 == 1)
    assert (final["completed_at"] is not None) is final["completed"]


async def test_simultaneous_creates_all_land(client: httpx.AsyncClient, alice: ApiUser) -> None:
    count = 40
    responses = await asyncio.gather(
        *(
            client.post("/tasks", json={"title": f"t{i}"}, headers=alice.headers)
            for i in range(count)
        )
    )
    assert [r.status_code for r in responses] == [201] * count
    page = (await client.get("/tasks", params={"limit": 200}, headers=alice.headers)).json()
    assert page["total"] == count
    assert {task["title"] for task in page["items"]} == {f"t{i}" for i in range(count)}


async def test_concurrent_patches_of_different_fields_both_survive(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(5):
        task = await create_task(alice)
        url = f"/tasks/{task['id']}"
        await asyncio.gather(
            client.patch(url, json={"title": "new title"}, headers=alice.headers),
            client.patch(url, json={"description": "new description"}, headers=alice.headers),
            client.patch(url, json={"completed": True}, headers=alice.headers),
        )
        final = (await client.get(url, headers=alice.headers)).json()
        assert final["title"] == "new title"
        assert final["description"] == "new description"
        assert final["completed"] is True
