"""Every task write, on every backend: each one takes the next number of its owner's change
counter and shows in incremental sync.

The writes are written once per dialect (tasks/statements.py: a PostgreSQL statement with the
counter's CTE, a SQLite transaction of bump, write and tombstone); this module runs each of
them, plain and under If-Match, on SQLite and on PostgreSQL alike, and the keyed replay and
the erasure that sit beside them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory

Write = Callable[[httpx.AsyncClient, ApiUser, str, dict[str, str]], Awaitable[httpx.Response]]

WRITES: dict[str, Write] = {
    "replace": lambda http, user, task, extra: http.put(
        f"/tasks/{task}", json={"title": "replaced"}, headers={**user.headers, **extra}
    ),
    "patch": lambda http, user, task, extra: http.patch(
        f"/tasks/{task}", json={"completed": True}, headers={**user.headers, **extra}
    ),
    "toggle": lambda http, user, task, extra: http.patch(
        f"/tasks/{task}/toggle", headers={**user.headers, **extra}
    ),
    "delete": lambda http, user, task, extra: http.delete(
        f"/tasks/{task}", headers={**user.headers, **extra}
    ),
}


async def changes(http: httpx.AsyncClient, user: ApiUser, since: str) -> dict[str, Any]:
    response = await http.get("/tasks/changes", params={"since": since}, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "if-match"])
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_takes_the_next_number_and_shows_in_sync(
    client: httpx.AsyncClient,
    new_user: Callable[[], ApiUser],
    write: str,
    conditional: bool,
) -> None:
    user = new_user()
    task = await TaskFactory(client)(user)
    # A new user's counter starts with the create.
    assert task["etag"] == '"1"'
    since = (await client.get("/tasks/changes", headers=user.headers)).json()["next_since"]
    extra = {"If-Match": task["etag"]} if conditional else {}
    response = await WRITES[write](client, user, task["id"], extra)
    assert response.is_success, response.text
    after = await changes(client, user, since)
    if write == "delete":
        assert after["deleted"] == [task["id"]]
        assert after["tasks"] == []
    else:
        assert response.json()["etag"] == '"2"'
        assert [changed["etag"] for changed in after["tasks"]] == ['"2"']
    # The write is applied once: under the old ETag a second conditional write is 412.
    again = await WRITES[write](client, user, task["id"], {"If-Match": task["etag"]})
    assert again.status_code == (404 if write == "delete" else 412), again.text


async def test_a_keyed_replay_takes_no_number(
    client: httpx.AsyncClient, new_user: Callable[[], ApiUser]
) -> None:
    user = new_user()
    headers = {**user.headers, "Idempotency-Key": "one"}
    first = await client.post("/tasks", json={"title": "once"}, headers=headers)
    replay = await client.post("/tasks", json={"title": "once"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    second = await TaskFactory(client)(user)
    assert second["etag"] == '"2"'


async def test_erasure_starts_the_numbers_again(
    client: httpx.AsyncClient, new_user: Callable[[], ApiUser]
) -> None:
    user = new_user()
    await TaskFactory(client)(user)
    await TaskFactory(client)(user)
    assert (await client.delete("/auth/me", headers=user.headers)).status_code == 204
    assert (await client.get("/tasks", headers=user.headers)).json()["total"] == 0
    assert (await TaskFactory(client)(user))["etag"] == '"1"'


async def test_list_writes_take_the_next_numbers_and_show_in_sync(
    client: httpx.AsyncClient, new_user: Callable[[], ApiUser]
) -> None:
    user = new_user()
    first = await TaskFactory(client)(user)
    # The default list, made for that first task, takes no number.
    assert first["etag"] == '"1"'
    since = (await client.get("/tasks/changes", headers=user.headers)).json()["next_since"]
    made = await client.post("/lists", json={"name": "Work"}, headers=user.headers)
    assert made.json()["etag"] == '"2"'
    work = made.json()["id"]
    inside = [await TaskFactory(client)(user, list_id=work) for _ in range(2)]
    assert [task["etag"] for task in inside] == ['"3"', '"4"']
    renamed = await client.patch(
        f"/lists/{work}", json={"name": "Office"}, headers={**user.headers, "If-Match": '"2"'}
    )
    assert renamed.json()["etag"] == '"5"'
    after = await changes(client, user, since)
    assert [item["etag"] for item in after["lists"]] == ['"5"']
    assert {task["id"] for task in after["tasks"]} == {task["id"] for task in inside}
    since = after["next_since"]
    assert (await client.delete(f"/lists/{work}", headers=user.headers)).status_code == 204
    # Numbers 6 and 7 for the tasks' tombstones, 8 for the list's: the next write takes 9.
    gone = await changes(client, user, since)
    assert sorted(gone["deleted"]) == sorted(task["id"] for task in inside)
    assert gone["deleted_lists"] == [work]
    assert (await TaskFactory(client)(user))["etag"] == '"9"'
