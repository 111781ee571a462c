"""Cursor pagination of GET /tasks: keyset pages, for every sort, under concurrent writes."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.conftest import SORTS, ApiUser, TaskFactory, assert_problem

PRIORITIES = ["none", "low", "medium", "high"]


async def walk(
    client: httpx.AsyncClient, user: ApiUser, params: dict[str, Any], limit: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """Every page from the first by cursor; the items in order, and each page's total."""
    items: list[dict[str, Any]] = []
    totals: list[int] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get("/tasks", params=query, headers=user.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        totals.append(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("the cursor never reached the end")


async def make_tasks(create_task: TaskFactory, user: ApiUser, count: int) -> list[dict[str, Any]]:
    chosen = random.Random(count)
    made = []
    for number in range(count):
        fields: dict[str, Any] = {
            # Repeated titles, priorities and due dates: ties that only the id breaks.
            "title": f"task {chosen.randrange(4)}",
            "priority": chosen.choice(PRIORITIES),
            "completed": chosen.random() < 0.5,
        }
        if chosen.random() < 0.6:
            fields["due_at"] = f"2026-12-0{chosen.randrange(1, 4)}T10:00:00+00:00"
        made.append(await create_task(user, **fields))
        if number % 3 == 0:
            # Distinct updated_at order from created_at order.
            await create_task.client.patch(
                f"/tasks/{made[chosen.randrange(len(made))]['id']}/toggle",
                headers=user.headers,
            )
    return made


@pytest.mark.parametrize("sort", SORTS)
async def test_walking_the_cursor_gives_the_one_page_order(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, sort: str
) -> None:
    await make_tasks(create_task, alice, 17)
    whole = await client.get("/tasks", params={"sort": sort, "limit": 200}, headers=alice.headers)
    assert whole.json()["next_cursor"] is None
    for limit in (1, 4):
        items, totals = await walk(client, alice, {"sort": sort}, limit)
        assert items == whole.json()["items"]
        assert set(totals) == {17}


@pytest.mark.parametrize(
    "filters",
    [
        {"completed": "true"},
        {"priority": ["high", "low"], "sort": "-due_at"},
        {"due_after": "2026-12-02T00:00:00Z", "sort": "due_at"},
        {"q": "task 1", "sort": "-priority"},
    ],
)
async def test_cursor_pages_keep_the_filters(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, filters: dict[str, Any]
) -> None:
    await make_tasks(create_task, alice, 15)
    whole = await client.get("/tasks", params={**filters, "limit": 200}, headers=alice.headers)
    items, totals = await walk(client, alice, filters, 2)
    assert items == whole.json()["items"]
    assert set(totals) == {whole.json()["total"]}


@pytest.mark.parametrize("sort", ["-created_at", "title", "due_at", "-priority"])
async def test_pages_under_concurrent_inserts_and_deletes_skip_and_repeat_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, sort: str
) -> None:
    chosen = random.Random(sort)
    steady = await make_tasks(create_task, alice, 12)
    doomed = [await create_task(alice, title=f"task {n}", priority="medium") for n in range(8)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/tasks", params=params, headers=alice.headers)).json()
        seen.extend(task["id"] for task in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # Between pages another device adds tasks and deletes some that were not there
        # throughout, some already listed and some not yet.
        await create_task(alice, title=f"task {chosen.randrange(4)}", due_at=None)
        await create_task(alice, title="a", due_at="2026-12-01T00:00:00Z", priority="high")
        if doomed:
            victim = doomed.pop(chosen.randrange(len(doomed)))
            deleted = await client.delete(f"/tasks/{victim['id']}", headers=alice.headers)
            assert deleted.status_code == 204
    steady_ids = {task["id"] for task in steady}
    assert [task_id for task_id in seen if task_id in steady_ids] == [
        task_id for task_id in dict.fromkeys(seen) if task_id in steady_ids
    ], "a task listed twice"
    assert steady_ids <= set(seen), "a task that existed throughout was skipped"


async def test_the_last_page_has_no_cursor_and_an_empty_list_too(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    empty = (await client.get("/tasks", headers=alice.headers)).json()
    assert empty["next_cursor"] is None
    await create_task(alice)
    await create_task(alice)
    exact = (await client.get("/tasks", params={"limit": 2}, headers=alice.headers)).json()
    assert exact["next_cursor"] is None
    first = (await client.get("/tasks", params={"limit": 1}, headers=alice.headers)).json()
    assert first["next_cursor"] is not None


async def test_an_offset_page_hands_on_a_cursor(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(5):
        await create_task(alice)
    whole = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    page = (
        await client.get("/tasks", params={"limit": 2, "offset": 1}, headers=alice.headers)
    ).json()
    following = (
        await client.get(
            "/tasks", params={"limit": 2, "cursor": page["next_cursor"]}, headers=alice.headers
        )
    ).json()
    assert following["items"] == whole[3:5]
    assert following["total"] == 5


async def test_a_deleted_cursor_row_does_not_lose_the_place(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    made = [await create_task(alice, title=f"t{number}") for number in range(4)]
    page = (
        await client.get("/tasks", params={"sort": "title", "limit": 2}, headers=alice.headers)
    ).json()
    await client.delete(f"/tasks/{made[1]['id']}", headers=alice.headers)
    rest = (
        await client.get(
            "/tasks",
            params={"sort": "title", "limit": 2, "cursor": page["next_cursor"]},
            headers=alice.headers,
        )
    ).json()
    assert [task["title"] for task in rest["items"]] == ["t2", "t3"]
    assert rest["total"] == 3


async def first_cursor(client: httpx.AsyncClient, user: ApiUser, params: dict[str, Any]) -> str:
    page = (await client.get("/tasks", params={**params, "limit": 1}, headers=user.headers)).json()
    cursor: str = page["next_cursor"]
    return cursor


@pytest.mark.parametrize(
    "second",
    [
        {"sort": "title"},
        {"sort": "-created_at", "completed": "false"},
        {"sort": "-created_at", "q": "x"},
        {"sort": "-created_at", "priority": "high"},
        {"sort": "-created_at", "tag": "home"},
        {"sort": "-created_at", "due_before": "2030-01-01T00:00:00Z"},
    ],
)
async def test_a_cursor_sent_with_other_filters_or_sort_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, second: dict[str, Any]
) -> None:
    for _ in range(3):
        await create_task(alice)
    cursor = await first_cursor(client, alice, {"sort": "-created_at"})
    response = await client.get(
        "/tasks", params={**second, "cursor": cursor}, headers=alice.headers
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "cursor"]


async def test_a_tampered_or_foreign_cursor_is_422(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(3):
        await create_task(alice)
        await create_task(bob)
    cursor = await first_cursor(client, alice, {})
    body, mac = cursor.split(".")
    for bad in (
        cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac,
        "not a cursor",
        "",
    ):
        response = await client.get("/tasks", params={"cursor": bad}, headers=alice.headers)
        assert_problem(response, 422)
    foreign = await client.get("/tasks", params={"cursor": cursor}, headers=bob.headers)
    assert_problem(foreign, 422)


async def test_an_offset_with_a_cursor_is_422(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(3):
        await create_task(alice)
    cursor = await first_cursor(client, alice, {})
    response = await client.get(
        "/tasks", params={"cursor": cursor, "offset": 1}, headers=alice.headers
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "offset"]
    zero = await client.get("/tasks", params={"cursor": cursor, "offset": 0}, headers=alice.headers)
    assert zero.status_code == 200


async def test_walking_while_another_client_writes_at_the_same_time(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    steady = await make_tasks(create_task, alice, 15)
    transient = [await create_task(alice, title="task 2") for _ in range(10)]
    writing = True

    async def other_device() -> None:
        chosen = random.Random(7)
        while writing:
            await create_task(alice, title=f"task {chosen.randrange(4)}", priority="high")
            if transient:
                victim = transient.pop()
                await client.delete(f"/tasks/{victim['id']}", headers=alice.headers)
            await asyncio.sleep(0)

    writer = asyncio.create_task(other_device())
    try:
        for sort in ("title", "-priority", "due_at"):
            items, _totals = await walk(client, alice, {"sort": sort}, 2)
            ids = [task["id"] for task in items]
            assert len(ids) == len(set(ids)), f"{sort}: a task listed twice"
            assert {task["id"] for task in steady} <= set(ids), f"{sort}: a task skipped"
    finally:
        writing = False
        await writer
