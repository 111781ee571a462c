"""GET /tags: the caller's tags with the number of their tasks that carry each."""

from __future__ import annotations

import httpx

from tests.conftest import ApiUser, TaskFactory, assert_problem


async def test_no_tasks_no_tags(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.get("/tags", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"items": []}


async def test_tags_are_counted_per_task_and_sorted_by_code_point(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    await create_task(alice, tags=["work", "Zebra", "été"])
    await create_task(alice, tags=["WORK", "work", "b-side", "b side"])
    await create_task(alice, tags=["école", "_x", "10", "9", "🙂"])
    await create_task(alice)
    await create_task(bob, tags=["work", "bob-only"])
    response = await client.get("/tags", headers=alice.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    # Code point order on both databases: digits < "_" < letters < accented < emoji.
    assert items == [
        {"name": "10", "count": 1},
        {"name": "9", "count": 1},
        {"name": "_x", "count": 1},
        {"name": "b side", "count": 1},
        {"name": "b-side", "count": 1},
        {"name": "work", "count": 2},
        {"name": "zebra", "count": 1},
        {"name": "école", "count": 1},
        {"name": "été", "count": 1},
        {"name": "🙂", "count": 1},
    ]


async def test_tag_counts_follow_changes_and_deletes(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    first = await create_task(alice, tags=["a", "b"])
    second = await create_task(alice, tags=["a"])
    await client.patch(f"/tasks/{first['id']}", json={"tags": ["b", "c"]}, headers=alice.headers)
    await client.delete(f"/tasks/{second['id']}", headers=alice.headers)
    items = (await client.get("/tags", headers=alice.headers)).json()["items"]
    assert items == [{"name": "b", "count": 1}, {"name": "c", "count": 1}]


async def test_tags_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/tags")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
