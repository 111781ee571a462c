"""GET /tasks version 2 filters and sorts, checked against a model of the expected page.

One user's tasks span every priority, due dates (some equal, some missing, in several
offsets) and overlapping tags; Hypothesis then draws filter, sort and paging combinations
and each page must be exactly the model's: the same tasks, in the same order, with the
right `total`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SORTS, ApiUser, TaskFactory, assert_problem

FILTER_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PRIORITIES = ["none", "low", "medium", "high"]
RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
TAGS = ["a", "b", "c", "été"]
BASE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def seed_bodies() -> list[dict[str, Any]]:
    """Twenty-four tasks covering the combinations, with ties on every sort key."""
    bodies = []
    for n in range(24):
        body: dict[str, Any] = {
            "title": "abcd"[n % 4] + "xy"[n % 2],
            "priority": PRIORITIES[n % 4],
            "completed": n % 3 == 0,
            "tags": [tag for bit, tag in enumerate(TAGS) if (n >> bit) & 1],
        }
        if n % 5 != 0:
            # Six distinct due times, each given in a different offset.
            due = BASE + timedelta(hours=n % 6)
            offset = timedelta(hours=(n % 3) - 1)
            body["due_at"] = due.astimezone(UTC).astimezone(_zone(offset)).isoformat()
        if n % 7 == 0:
            body["tags"] = [tag.upper() for tag in body["tags"]] + [" A "]
        bodies.append(body)
    return bodies


def _zone(offset: timedelta) -> timezone:
    return timezone(offset)


_seeded: dict[str, list[dict[str, Any]]] = {}


async def seeded(user: ApiUser, create_task: TaskFactory) -> list[dict[str, Any]]:
    if user.sub not in _seeded:
        _seeded[user.sub] = [await create_task(user, **body) for body in seed_bodies()]
    return _seeded[user.sub]


def expected_page(tasks: list[dict[str, Any]], query: dict[str, Any]) -> tuple[list[str], int]:
    """The ids of the page the contract says GET /tasks returns, and the total."""
    chosen = list(tasks)
    if "completed" in query:
        chosen = [t for t in chosen if t["completed"] is (query["completed"] == "true")]
    if query.get("priority"):
        chosen = [t for t in chosen if t["priority"] in query["priority"]]
    if query.get("tag"):
        wanted = {tag.strip().lower() for tag in query["tag"]}
        chosen = [t for t in chosen if wanted <= set(t["tags"])]
    if "due_before" in query:
        bound = parse(query["due_before"])
        chosen = [t for t in chosen if t["due_at"] and parse(t["due_at"]) < bound]
    if "due_after" in query:
        bound = parse(query["due_after"])
        chosen = [t for t in chosen if t["due_at"] and parse(t["due_at"]) >= bound]
    sort = query.get("sort", "-created_at")
    field = sort.lstrip("-")
    descending = sort.startswith("-")
    # Ties by id in the direction of the sort; tasks without a due date last either way.
    chosen.sort(key=lambda t: uuid.UUID(t["id"]), reverse=descending)
    if field == "due_at":
        dated = [t for t in chosen if t["due_at"] is not None]
        undated = [t for t in chosen if t["due_at"] is None]
        dated.sort(key=lambda t: parse(t["due_at"]), reverse=descending)
        chosen = dated + undated
    elif field == "priority":
        chosen.sort(key=lambda t: RANK[t["priority"]], reverse=descending)
    else:
        chosen.sort(
            key=lambda t: t[field] if field == "title" else parse(t[field]), reverse=descending
        )
    offset, limit = query.get("offset", 0), query.get("limit", 50)
    return [t["id"] for t in chosen[offset : offset + limit]], len(chosen)


bounds = st.builds(
    lambda hours, offset: (
        (BASE + timedelta(hours=hours, minutes=30 * offset))
        .astimezone(_zone(timedelta(hours=offset)))
        .isoformat()
    ),
    st.integers(min_value=-1, max_value=7),
    st.integers(min_value=-2, max_value=2),
)


@st.composite
def list_queries(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {"sort": draw(st.sampled_from(SORTS))}
    if draw(st.booleans()):
        query["priority"] = draw(st.lists(st.sampled_from(PRIORITIES), min_size=1, max_size=3))
    if draw(st.booleans()):
        spelled = st.sampled_from(["a", " A", "B ", "c", "ÉTÉ", "été", "missing"])
        query["tag"] = draw(st.lists(spelled, min_size=1, max_size=3))
    if draw(st.booleans()):
        query["due_before"] = draw(bounds)
    if draw(st.booleans()):
        query["due_after"] = draw(bounds)
    if draw(st.booleans()):
        query["completed"] = draw(st.sampled_from(["true", "false"]))
    if draw(st.booleans()):
        query["limit"] = draw(st.integers(min_value=1, max_value=10))
        query["offset"] = draw(st.integers(min_value=0, max_value=25))
    return query


@FILTER_SETTINGS
@given(query=list_queries())
async def test_every_filter_and_sort_combination_matches_the_model(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, query: dict[str, Any]
) -> None:
    tasks = await seeded(alice, create_task)
    response = await client.get("/tasks", params=query, headers=alice.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    ids, total = expected_page(tasks, query)
    assert [task["id"] for task in page["items"]] == ids, query
    assert page["total"] == total, query


async def test_listed_tasks_carry_the_new_fields_exactly_as_get_does(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(
        alice, priority="medium", due_at="2026-12-01T17:00:00+01:00", tags=["Één", "b"]
    )
    listed = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    fetched = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert listed == [fetched.json()] == [task]
    assert listed[0]["etag"] == fetched.headers["etag"]


async def test_a_tag_filter_sees_a_patch_at_once(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, tags=["old"])
    await client.patch(f"/tasks/{task['id']}", json={"tags": ["new"]}, headers=alice.headers)
    for tag, expected in (("old", []), ("new", [task["id"]])):
        page = (await client.get("/tasks", params={"tag": tag}, headers=alice.headers)).json()
        assert [item["id"] for item in page["items"]] == expected


async def test_filters_never_show_another_users_tasks(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    await create_task(bob, priority="high", tags=["shared"], due_at="2026-12-01T00:00:00Z")
    query = {"priority": "high", "tag": "shared", "due_after": "2000-01-01T00:00:00Z"}
    page = (await client.get("/tasks", params=query, headers=alice.headers)).json()
    assert page == {"items": [], "total": 0, "limit": 50, "offset": 0, "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"priority": "urgent"}, "priority"),
        ({"priority": ["high", "HIGH"]}, "priority"),
        ({"tag": ""}, "tag"),
        ({"tag": "   "}, "tag"),
        ({"tag": "x" * 51}, "tag"),
        ({"tag": "bell\u0007"}, "tag"),
        ({"tag": [f"t{n}" for n in range(21)]}, "tag"),
        ({"due_before": "2026-12-01T17:00:00"}, "due_before"),
        ({"due_before": "2026-12-01"}, "due_before"),
        ({"due_before": "1764608400"}, "due_before"),
        ({"due_after": "2026-12-01T17:00:00"}, "due_after"),
        ({"due_after": "soon"}, "due_after"),
        ({"sort": "due"}, "sort"),
        ({"sort": "+priority"}, "sort"),
    ],
)
async def test_bad_filters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, alice: ApiUser, params: dict[str, Any], name: str
) -> None:
    response = await client.get("/tasks", params=params, headers=alice.headers)
    problem = assert_problem(response, 422)
    assert any(error["loc"][:2] == ["query", name] for error in problem["errors"]), problem


async def test_a_due_bound_in_any_offset_means_the_same_instant(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, due_at="2026-12-01T16:00:00Z")
    cases = [
        ({"due_after": "2026-12-01T17:00:00+01:00"}, [task["id"]]),  # >= is inclusive
        ({"due_before": "2026-12-01T17:00:00+01:00"}, []),  # < is strict
        ({"due_before": "2026-12-01T11:00:01-05:00"}, [task["id"]]),
        ({"due_after": "2026-12-01T16:00:00.000001Z"}, []),
    ]
    for params, expected in cases:
        page = (await client.get("/tasks", params=params, headers=alice.headers)).json()
        assert [item["id"] for item in page["items"]] == expected, params
