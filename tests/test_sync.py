"""GET /tasks/changes: incremental sync with tombstones, tokens that follow commit order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from tests.conftest import TEST_SECRET, ApiUser, TaskFactory, assert_problem
from tests.servers import serving
from todo_api.database import create_engine, utc_now
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.settings import Settings
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.sync_tokens import SyncPosition, encode_sync_token


class Replica:
    """What a client keeps: its copy of the tasks and lists, and its sync token."""

    def __init__(self, client: httpx.AsyncClient, user: ApiUser, limit: int = 500) -> None:
        self.client = client
        self.user = user
        self.limit = limit
        self.tasks: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, dict[str, Any]] = {}
        self.since: str | None = None
        self.calls = 0

    async def catch_up(self) -> None:
        while True:
            params: dict[str, Any] = {"limit": self.limit}
            if self.since is not None:
                params["since"] = self.since
            response = await self.client.get(
                "/tasks/changes", params=params, headers=self.user.headers
            )
            assert response.status_code == 200, response.text
            self.calls += 1
            page = response.json()
            assert set(page) == {
                "tasks",
                "deleted",
                "lists",
                "deleted_lists",
                "next_since",
                "has_more",
            }
            ids = [task["id"] for task in page["tasks"]]
            assert len(ids) == len(set(ids)), "a task twice in one response"
            list_ids = [item["id"] for item in page["lists"]]
            assert len(list_ids) == len(set(list_ids)), "a list twice in one response"
            changes = len(ids) + len(page["deleted"]) + len(list_ids) + len(page["deleted_lists"])
            assert changes <= self.limit
            for item in page["lists"]:
                self.lists[item["id"]] = item
            for task in page["tasks"]:
                self.tasks[task["id"]] = task
            for task_id in page["deleted"]:
                self.tasks.pop(task_id, None)
            for list_id in page["deleted_lists"]:
                self.lists.pop(list_id, None)
            self.since = page["next_since"]
            if not page["has_more"]:
                return


async def server_tasks(client: httpx.AsyncClient, user: ApiUser) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        response = await client.get(
            "/tasks", params={"limit": 200, "offset": offset}, headers=user.headers
        )
        assert response.status_code == 200
        page = response.json()
        found.update({task["id"]: task for task in page["items"]})
        offset += 200
        if offset >= page["total"]:
            return found


async def server_lists(client: httpx.AsyncClient, user: ApiUser) -> dict[str, dict[str, Any]]:
    response = await client.get("/lists", headers=user.headers)
    assert response.status_code == 200
    return {item["id"]: item for item in response.json()["items"]}


async def test_a_new_users_first_sync_holds_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    replica = Replica(client, alice)
    await replica.catch_up()
    assert [(item["name"], item["is_default"]) for item in replica.lists.values()] == [
        ("Tasks", True)
    ]
    assert replica.lists == await server_lists(client, alice)
    assert replica.tasks == {}


async def test_a_replica_follows_list_creates_renames_and_deletes(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    replica = Replica(client, alice)
    await replica.catch_up()
    made = await client.post("/lists", json={"name": "Work"}, headers=alice.headers)
    work = made.json()
    inside = [await create_task(alice, list_id=work["id"]) for _ in range(2)]
    kept = await create_task(alice)
    await client.post("/lists", json={"name": "Bob's"}, headers=bob.headers)
    await replica.catch_up()
    assert replica.lists[work["id"]] == work
    assert replica.lists == await server_lists(client, alice)
    assert replica.tasks == await server_tasks(client, alice)

    renamed = await client.patch(
        f"/lists/{work['id']}", json={"name": "Office"}, headers=alice.headers
    )
    await replica.catch_up()
    assert replica.lists[work["id"]] == renamed.json()

    before = replica.since
    assert (await client.delete(f"/lists/{work['id']}", headers=alice.headers)).status_code == 204
    page = (
        await client.get("/tasks/changes", params={"since": before}, headers=alice.headers)
    ).json()
    assert page["deleted_lists"] == [work["id"]]
    assert sorted(page["deleted"]) == sorted(task["id"] for task in inside)
    assert (page["tasks"], page["lists"]) == ([], [])
    await replica.catch_up()
    assert replica.lists == await server_lists(client, alice)
    assert replica.tasks == await server_tasks(client, alice) == {kept["id"]: kept}


async def test_a_list_deletion_reaches_a_replica_syncing_one_change_at_a_time(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    replica = Replica(client, alice, limit=1)
    doomed = (await client.post("/lists", json={"name": "Doomed"}, headers=alice.headers)).json()
    for _ in range(3):
        await create_task(alice, list_id=doomed["id"])
    await replica.catch_up()
    assert len(replica.tasks) == 3
    moved = await create_task(alice, list_id=doomed["id"])
    default_id = next(item["id"] for item in replica.lists.values() if item["is_default"])
    await client.patch(f"/tasks/{moved['id']}", json={"list_id": default_id}, headers=alice.headers)
    await client.delete(f"/lists/{doomed['id']}", headers=alice.headers)
    calls = replica.calls
    await replica.catch_up()
    # One change per call: the moved task, three task deletions, the list's deletion.
    assert replica.calls - calls == 5
    assert replica.lists == await server_lists(client, alice)
    assert replica.tasks == await server_tasks(client, alice)
    assert [task["list_id"] for task in replica.tasks.values()] == [default_id]


async def test_a_replica_follows_creates_changes_and_deletes(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    first = await create_task(alice, title="first")
    second = await create_task(alice, title="second")
    await create_task(bob, title="not alice's")
    replica = Replica(client, alice)
    await replica.catch_up()
    assert replica.tasks == {first["id"]: first, second["id"]: second}

    await client.patch(f"/tasks/{first['id']}", json={"title": "renamed"}, headers=alice.headers)
    await client.patch(f"/tasks/{first['id']}/toggle", headers=alice.headers)
    await client.delete(f"/tasks/{second['id']}", headers=alice.headers)
    third = await create_task(alice, title="third")
    response = await client.get(
        "/tasks/changes", params={"since": replica.since}, headers=alice.headers
    )
    page = response.json()
    assert [task["id"] for task in page["tasks"]] == [first["id"], third["id"]]
    assert page["deleted"] == [second["id"]]
    assert page["has_more"] is False
    await replica.catch_up()
    assert replica.tasks == await server_tasks(client, alice)
    assert replica.tasks[first["id"]]["title"] == "renamed"

    # Nothing new: an empty answer, and a token that still works.
    again = await client.get(
        "/tasks/changes", params={"since": replica.since}, headers=alice.headers
    )
    assert again.json()["tasks"] == again.json()["deleted"] == []
    assert again.json()["has_more"] is False


async def test_small_pages_deliver_everything_once(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    created = [await create_task(alice, title=f"t{number}") for number in range(7)]
    replica = Replica(client, alice, limit=2)
    await replica.catch_up()
    assert replica.calls == 4
    assert set(replica.tasks) == {task["id"] for task in created}
    for task in created[:3]:
        await client.delete(f"/tasks/{task['id']}", headers=alice.headers)
    for task in created[3:5]:
        await client.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    await replica.catch_up()
    assert replica.tasks == await server_tasks(client, alice)


async def test_tasks_from_before_the_change_counter_page_correctly(
    settings: Settings, client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    # Tasks migrated from version 1 all have version 0: pages must not cut among them.
    created = [await create_task(alice) for _ in range(5)]
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(tasks).where(tasks.c.user_id == alice.sub).values(version=0)
            )
    finally:
        await engine.dispose()
    replica = Replica(client, alice, limit=2)
    await replica.catch_up()
    assert set(replica.tasks) == {task["id"] for task in created}
    await client.delete(f"/tasks/{created[0]['id']}", headers=alice.headers)
    await replica.catch_up()
    assert set(replica.tasks) == {task["id"] for task in created[1:]}


async def test_without_since_only_current_tasks_and_no_deletions(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    gone = await create_task(alice)
    kept = await create_task(alice)
    await client.delete(f"/tasks/{gone['id']}", headers=alice.headers)
    page = (await client.get("/tasks/changes", headers=alice.headers)).json()
    assert [task["id"] for task in page["tasks"]] == [kept["id"]]
    assert page["deleted"] == []


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
async def test_a_limit_out_of_range_is_422(
    client: httpx.AsyncClient, alice: ApiUser, limit: str
) -> None:
    response = await client.get("/tasks/changes", params={"limit": limit}, headers=alice.headers)
    assert_problem(response, 422)


@pytest.mark.parametrize("since", ["", "garbage", "a.b", "x" * 3000])
async def test_a_malformed_token_is_422(
    client: httpx.AsyncClient, alice: ApiUser, since: str
) -> None:
    response = await client.get("/tasks/changes", params={"since": since}, headers=alice.headers)
    assert_problem(response, 422)


async def test_another_users_token_is_422(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    await create_task(alice)
    token = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    response = await client.get("/tasks/changes", params={"since": token}, headers=bob.headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "since"]


async def test_a_token_older_than_the_tombstones_kept_is_410(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    async with serving(settings_factory(sync_tombstone_days=2)) as client:
        tokens = OpaqueTokens(TEST_SECRET)
        now = utc_now()
        fresh = encode_sync_token(tokens, alice.sub, SyncPosition(0, now - timedelta(days=1)))
        stale = encode_sync_token(
            tokens, alice.sub, SyncPosition(0, now - timedelta(days=2, minutes=1))
        )
        ok = await client.get("/tasks/changes", params={"since": fresh}, headers=alice.headers)
        assert ok.status_code == 200
        gone = await client.get("/tasks/changes", params={"since": stale}, headers=alice.headers)
        body = assert_problem(gone, 410)
        assert "without `since`" in body["detail"]


async def test_a_token_from_an_erased_history_is_410(
    settings: Settings, client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(3):
        await create_task(alice)
    old = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    # Erased as DELETE /auth/me does: tasks, deletions and the change counter all go.
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            for table in (tasks, tombstones, change_counters):
                await connection.execute(delete(table).where(table.c.user_id == alice.sub))
    finally:
        await engine.dispose()
    await create_task(alice)
    response = await client.get("/tasks/changes", params={"since": old}, headers=alice.headers)
    assert_problem(response, 410)
