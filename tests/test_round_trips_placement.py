"""Round trips of subtasks and manual order on PostgreSQL, counted at the driver as in
test_round_trips.py: a plain create, a PATCH to another list (the subtasks following) and a
delete of a task with subtasks stay one statement; a placement that must check a parent or
find neighbours is one transaction whose first statement takes the owner's number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory
from tests.test_round_trips import App, traced_app, traced_settings

__all__ = ["traced_app", "traced_settings"]

Placement = Callable[[httpx.AsyncClient, ApiUser, dict[str, Any]], Awaitable[httpx.Response]]


def _move(body: dict[str, Any] | None = None) -> Placement:
    async def move(http: httpx.AsyncClient, user: ApiUser, tasks: dict[str, Any]) -> Any:
        request = {name: tasks[value] if value else None for name, value in (body or {}).items()}
        return await http.post(f"/tasks/{tasks['a']}/move", json=request, headers=user.headers)

    return move


async def _create_child(http: httpx.AsyncClient, user: ApiUser, tasks: dict[str, Any]) -> Any:
    return await http.post(
        "/tasks", json={"title": "t", "parent_id": tasks["b"]}, headers=user.headers
    )


async def _delete_tree(http: httpx.AsyncClient, user: ApiUser, tasks: dict[str, Any]) -> Any:
    return await http.delete(f"/tasks/{tasks['parent']}", headers=user.headers)


async def _relist_tree(http: httpx.AsyncClient, user: ApiUser, tasks: dict[str, Any]) -> Any:
    body = {"list_id": tasks["list"]}
    return await http.patch(f"/tasks/{tasks['parent']}", json=body, headers=user.headers)


# What each takes on PostgreSQL: BEGIN, the number, the reads the rules need, the write(s),
# COMMIT. Stated in API.md's neighbour docs and the report; a change here is a decision.
ROUND_TRIPS: dict[str, tuple[Placement, int]] = {
    "create a task": (
        lambda http, user, _: http.post("/tasks", json={"title": "t"}, headers=user.headers),
        1,
    ),
    "delete a task with subtasks": (_delete_tree, 1),
    "patch a task with subtasks to another list": (_relist_tree, 1),
    "create a subtask": (_create_child, 5),
    "move last": (_move(), 5),
    "move first": (_move({"after": None}), 6),
    "move after a sibling": (_move({"after": "b"}), 6),
    "move under a parent": (_move({"parent_id": "b"}), 6),
}


@pytest.mark.parametrize("operation", list(ROUND_TRIPS))
async def test_round_trips_of_placements(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, operation: str
) -> None:
    http, app = traced_app
    if app.trace.backend != "postgresql":
        pytest.skip("counted on PostgreSQL, where a statement is a round trip")
    create = TaskFactory(http)
    tasks = {name: (await create(alice))["id"] for name in ("a", "b", "c", "parent")}
    await create(alice, parent_id=tasks["parent"])
    made = await http.post("/lists", json={"name": "Elsewhere"}, headers=alice.headers)
    tasks["list"] = made.json()["id"]
    request, expected = ROUND_TRIPS[operation]
    async with app.trace.observe() as observed:
        response = await request(http, alice, tasks)
    assert response.is_success, response.text
    assert observed.round_trips == expected, observed.statements
