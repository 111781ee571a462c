"""A user only ever sees and changes their own tasks; another user's task is 403."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem

FOREIGN_REQUESTS = [
    ("GET", "", None),
    ("PUT", "", {"title": "stolen", "completed": True}),
    ("PATCH", "", {"title": "stolen"}),
    ("PATCH", "/toggle", None),
    ("DELETE", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), FOREIGN_REQUESTS)
async def test_another_users_task_is_403_and_unchanged(
    client: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
    create_task: TaskFactory,
    method: str,
    suffix: str,
    body: dict[str, object] | None,
) -> None:
    task = await create_task(alice, title="private", description="secret plans")
    response = await client.request(
        method, f"/tasks/{task['id']}{suffix}", json=body, headers=bob.headers
    )
    problem = assert_problem(response, 403)
    assert "private" not in response.text
    assert "secret plans" not in response.text
    assert task["id"] not in problem["detail"]
    after = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
    assert after.json() == task


async def test_lists_never_mix_users(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    alices = {(await create_task(alice, title="shared words"))["id"] for _ in range(3)}
    bobs = {(await create_task(bob, title="shared words"))["id"] for _ in range(2)}
    for user, expected in ((alice, alices), (bob, bobs)):
        page = (await client.get("/tasks", params={"q": "shared"}, headers=user.headers)).json()
        assert {task["id"] for task in page["items"]} == expected
        assert page["total"] == len(expected)
