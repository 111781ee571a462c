"""GET /tasks: paging, filters, search, sort, and `total`."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem


async def test_empty_list(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.get("/tasks", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


async def test_a_listed_task_is_exactly_what_get_returns(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    # The list is rendered from rows, the single-task routes from models: same JSON.
    created = [
        await create_task(alice, title="Crème brûlée ✓", description="naïve\u2028line"),
        await create_task(alice, completed=True),
    ]
    response = await client.get("/tasks", params={"sort": "created_at"}, headers=alice.headers)
    assert response.headers["content-type"] == "application/json"
    for listed, task in zip(response.json()["items"], created, strict=True):
        fetched = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
        assert listed == fetched.json() == task
        assert all(
            listed[name].endswith("Z")
            for name in ("created_at", "updated_at", "completed_at")
            if listed[name] is not None
        )


async def test_default_order_is_newest_first(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    created = [await create_task(alice, title=f"t{i}") for i in range(3)]
    page = (await client.get("/tasks", headers=alice.headers)).json()
    assert [task["id"] for task in page["items"]] == [task["id"] for task in reversed(created)]
    assert page["total"] == 3


async def test_limit_and_offset_page_through_everything_once(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    created = {(await create_task(alice))["id"] for _ in range(7)}
    seen: list[str] = []
    for offset in range(0, 9, 3):
        page = (
            await client.get("/tasks", params={"limit": 3, "offset": offset}, headers=alice.headers)
        ).json()
        assert page["total"] == 7
        assert page["limit"] == 3
        assert page["offset"] == offset
        seen += [task["id"] for task in page["items"]]
    assert len(seen) == 7
    assert set(seen) == created


async def test_offset_past_the_end_still_counts_the_total(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(2):
        await create_task(alice)
    page = (await client.get("/tasks", params={"offset": 10}, headers=alice.headers)).json()
    assert page["items"] == []
    assert page["total"] == 2


async def test_filter_by_completed(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    done = await create_task(alice, completed=True)
    open_task = await create_task(alice)
    completed = (
        await client.get("/tasks", params={"completed": "true"}, headers=alice.headers)
    ).json()
    assert [task["id"] for task in completed["items"]] == [done["id"]]
    assert completed["total"] == 1
    pending = (
        await client.get("/tasks", params={"completed": "false"}, headers=alice.headers)
    ).json()
    assert [task["id"] for task in pending["items"]] == [open_task["id"]]


async def test_search_is_a_case_insensitive_substring_of_title_or_description(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    in_title = await create_task(alice, title="Call the PLUMBER")
    in_description = await create_task(alice, title="house", description="ask a plumber")
    await create_task(alice, title="unrelated")
    page = (await client.get("/tasks", params={"q": "Plumb"}, headers=alice.headers)).json()
    assert {task["id"] for task in page["items"]} == {in_title["id"], in_description["id"]}
    assert page["total"] == 2


async def test_search_treats_like_wildcards_literally(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    percent = await create_task(alice, title="100% done")
    await create_task(alice, title="100 done")
    for query, expected in (("0%", {percent["id"]}), ("_", set())):
        page = (await client.get("/tasks", params={"q": query}, headers=alice.headers)).json()
        assert {task["id"] for task in page["items"]} == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("title", ["apple", "banana", "cherry"]),
        ("-title", ["cherry", "banana", "apple"]),
        ("created_at", ["banana", "cherry", "apple"]),
        ("-created_at", ["apple", "cherry", "banana"]),
        ("updated_at", ["cherry", "apple", "banana"]),
        ("-updated_at", ["banana", "apple", "cherry"]),
    ],
)
async def test_sort_orders(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_task: TaskFactory,
    sort: str,
    expected: list[str],
) -> None:
    banana = await create_task(alice, title="banana")
    await create_task(alice, title="cherry")
    apple = await create_task(alice, title="apple")
    await client.patch(f"/tasks/{apple['id']}", json={"description": "x"}, headers=alice.headers)
    await client.patch(f"/tasks/{banana['id']}", json={"description": "x"}, headers=alice.headers)
    page = (await client.get("/tasks", params={"sort": sort}, headers=alice.headers)).json()
    assert [task["title"] for task in page["items"]] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"offset": -1},
        {"completed": "yes"},
        {"completed": "1"},
        {"sort": "rank"},
        {"sort": "+title"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, alice: ApiUser, params: dict[str, object]
) -> None:
    response = await client.get("/tasks", params=params, headers=alice.headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"][0] == "query"


async def test_limit_bounds_are_inclusive(client: httpx.AsyncClient, alice: ApiUser) -> None:
    for limit in (1, 200):
        response = await client.get("/tasks", params={"limit": limit}, headers=alice.headers)
        assert response.status_code == 200
        assert response.json()["limit"] == limit
