"""A write that both places a task and touches its recurrence or completion: the placement
path applies the other fields under the same rules as a plain PATCH."""

from __future__ import annotations

import httpx

from tests.conftest import ApiUser, TaskFactory, assert_problem

WEEKLY = {"rule": "FREQ=WEEKLY;COUNT=3", "time_zone": "Europe/Berlin", "from": "due"}


async def test_a_patch_giving_a_parent_and_a_recurrence_sets_both(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice, due_at="2026-03-23T08:00:00Z")
    response = await client.patch(
        f"/tasks/{task['id']}",
        json={"parent_id": parent["id"], "recurrence": WEEKLY},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == parent["id"]
    assert response.json()["recurrence"] == WEEKLY


async def test_completing_a_recurring_task_while_giving_it_a_parent_advances_it(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice, due_at="2026-03-23T08:00:00Z", recurrence=WEEKLY)
    response = await client.patch(
        f"/tasks/{task['id']}",
        json={"parent_id": parent["id"], "completed": True},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["parent_id"], body["completed"]) == (parent["id"], False)
    assert body["due_at"] == "2026-03-30T07:00:00Z"
    assert body["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=2"


async def test_a_recurrence_without_a_due_date_is_refused_with_a_parent_too(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    task = await create_task(alice)
    response = await client.patch(
        f"/tasks/{task['id']}",
        json={"parent_id": parent["id"], "recurrence": WEEKLY},
        headers=alice.headers,
    )
    assert_problem(response, 422)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task
