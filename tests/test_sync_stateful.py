"""Random interleavings of writes by several clients with syncs (Hypothesis): every client
that catches up holds exactly its user's tasks and lists as the server has them.

Three replicas over two users (two devices of the first user, one of the second); writes
come from any device, syncs read one page at a time with small limits, so writes land in
the middle of a catch-up. After each full catch-up the replica must equal the server's
tasks, read by walking the list's cursor, and the server's lists. Lists are created,
renamed and deleted (with their tasks) among the task writes, and tasks are created in and
moved between them; subtasks are created, moved among their siblings (a renumbered group
is a change of each), and deleted with their parents (a tombstone each). Some tasks recur:
their toggles move them on (a change in sync like any other), and their recurrence is set
and cleared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import bearer, make_settings, make_token
from tests.servers import open_client
from todo_api.app import create_app

# Replica number -> user number.
REPLICA_OWNERS = (0, 0, 1)
USERS = 2
replicas = st.integers(min_value=0, max_value=len(REPLICA_OWNERS) - 1)
users = st.integers(min_value=0, max_value=USERS - 1)
limits = st.integers(min_value=1, max_value=3)
titles = st.text("abc", min_size=1, max_size=3)


class SyncApi:
    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[SyncApi]:
    app_settings = make_settings(database_url, log_level="WARNING")
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(open_client(create_app(app_settings))) as client,
    ):
        yield SyncApi(portal, client)


@dataclass
class Replica:
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    since: str | None = None
    # True between the first page of a catch-up and the page that ends it.
    catching_up: bool = False


@dataclass(frozen=True)
class TaskRef:
    id: str
    owner: int


@dataclass(frozen=True)
class ListRef:
    id: str
    owner: int


class SyncMachine(RuleBasedStateMachine):
    api: ClassVar[SyncApi]
    tasks = Bundle("tasks")
    lists = Bundle("lists")

    def __init__(self) -> None:
        super().__init__()
        run = uuid.uuid4().hex[:12]
        self.headers = [
            bearer(make_token(f"sync-{run}-{number}", lifetime=timedelta(hours=1)))
            for number in range(USERS)
        ]
        self.replicas = [Replica() for _ in REPLICA_OWNERS]

    def call(self, user: int, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.api.request(method, url, headers=self.headers[user], **kwargs)

    @rule(target=tasks, user=users, title=titles, completed=st.booleans())
    def create(self, user: int, title: str, completed: bool) -> TaskRef:
        made = self.call(user, "POST", "/tasks", json={"title": title, "completed": completed})
        assert made.status_code == 201, made.text
        return TaskRef(made.json()["id"], user)

    @rule(target=tasks, user=users, title=titles, count=st.integers(min_value=1, max_value=3))
    def create_recurring(self, user: int, title: str, count: int) -> TaskRef:
        recurrence = {"rule": f"FREQ=DAILY;COUNT={count}", "time_zone": "Europe/Berlin"}
        body = {"title": title, "due_at": "2026-03-28T09:00:00+01:00", "recurrence": recurrence}
        made = self.call(user, "POST", "/tasks", json=body)
        assert made.status_code == 201, made.text
        return TaskRef(made.json()["id"], user)

    @rule(ref=tasks, repeat=st.booleans())
    def set_or_clear_recurrence(self, ref: TaskRef, repeat: bool) -> None:
        body: dict[str, Any] = {"recurrence": None}
        if repeat:
            body = {"recurrence": {"rule": "FREQ=WEEKLY"}, "due_at": "2026-10-20T08:00:00Z"}
        answer = self.call(ref.owner, "PATCH", f"/tasks/{ref.id}", json=body)
        assert answer.status_code in (200, 404), answer.text

    @rule(target=tasks, ref=lists, title=titles)
    def create_in_list(self, ref: ListRef, title: str) -> TaskRef:
        made = self.call(ref.owner, "POST", "/tasks", json={"title": title, "list_id": ref.id})
        assert made.status_code == 201, made.text
        return TaskRef(made.json()["id"], ref.owner)

    @rule(target=lists, user=users, name=titles)
    def create_list(self, user: int, name: str) -> ListRef:
        made = self.call(user, "POST", "/lists", json={"name": f"{name} {uuid.uuid4().hex[:6]}"})
        assert made.status_code == 201, made.text
        return ListRef(made.json()["id"], user)

    @rule(ref=lists, name=titles)
    def rename_list(self, ref: ListRef, name: str) -> None:
        answer = self.call(ref.owner, "PATCH", f"/lists/{ref.id}", json={"name": name})
        assert answer.status_code in (200, 404, 409), answer.text

    @rule(ref=consumes(lists))
    def delete_list(self, ref: ListRef) -> None:
        answer = self.call(ref.owner, "DELETE", f"/lists/{ref.id}")
        assert answer.status_code == 204, answer.text

    @rule(task=tasks, target_list=lists)
    def move(self, task: TaskRef, target_list: ListRef) -> None:
        if task.owner != target_list.owner:
            return
        answer = self.call(
            task.owner, "PATCH", f"/tasks/{task.id}", json={"list_id": target_list.id}
        )
        assert answer.status_code in (200, 404, 422), answer.text

    @rule(target=tasks, parent=tasks, title=titles)
    def create_subtask(self, parent: TaskRef, title: str) -> TaskRef:
        body = {"title": title, "parent_id": parent.id}
        made = self.call(parent.owner, "POST", "/tasks", json=body)
        # 422: the parent is gone, or four levels deep.
        assert made.status_code in (201, 422), made.text
        return TaskRef(made.json()["id"] if made.status_code == 201 else parent.id, parent.owner)

    @rule(task=tasks, after=st.one_of(st.none(), tasks))
    def move_among_siblings(self, task: TaskRef, after: TaskRef | None) -> None:
        body = {"after": None if after is None else after.id}
        answer = self.call(task.owner, "POST", f"/tasks/{task.id}/move", json=body)
        assert answer.status_code in (200, 404, 422), answer.text

    @rule(ref=tasks, title=titles)
    def rename(self, ref: TaskRef, title: str) -> None:
        answer = self.call(ref.owner, "PATCH", f"/tasks/{ref.id}", json={"title": title})
        assert answer.status_code in (200, 404), answer.text

    @rule(ref=tasks)
    def toggle(self, ref: TaskRef) -> None:
        answer = self.call(ref.owner, "PATCH", f"/tasks/{ref.id}/toggle")
        assert answer.status_code in (200, 404), answer.text

    @rule(ref=consumes(tasks))
    def delete(self, ref: TaskRef) -> None:
        answer = self.call(ref.owner, "DELETE", f"/tasks/{ref.id}")
        assert answer.status_code in (204, 404), answer.text

    @rule(number=replicas, limit=limits)
    def sync_one_page(self, number: int, limit: int) -> None:
        """One page of a catch-up, which writes may then interrupt."""
        replica = self.replicas[number]
        params: dict[str, Any] = {"limit": limit}
        if replica.since is not None:
            params["since"] = replica.since
        answer = self.call(REPLICA_OWNERS[number], "GET", "/tasks/changes", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        changes = sum(len(page[key]) for key in ("tasks", "deleted", "lists", "deleted_lists"))
        assert changes <= limit
        for task in page["tasks"]:
            replica.tasks[task["id"]] = task
        for task_id in page["deleted"]:
            replica.tasks.pop(task_id, None)
        for item in page["lists"]:
            replica.lists[item["id"]] = item
        for list_id in page["deleted_lists"]:
            replica.lists.pop(list_id, None)
        replica.since = page["next_since"]
        replica.catching_up = page["has_more"]
        if not page["has_more"]:
            owner = REPLICA_OWNERS[number]
            assert replica.tasks == self.server_tasks(owner)
            assert replica.lists == self.server_lists(owner)

    @precondition(lambda self: any(replica.catching_up for replica in self.replicas))
    @rule(number=replicas, limit=limits)
    def finish_catching_up(self, number: int, limit: int) -> None:
        self.sync_one_page(number, limit)
        while self.replicas[number].catching_up:
            self.sync_one_page(number, limit)

    def server_lists(self, user: int) -> dict[str, dict[str, Any]]:
        answer = self.call(user, "GET", "/lists")
        return {item["id"]: item for item in answer.json()["items"]}

    def server_tasks(self, user: int) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, "sort": "title"}
            if cursor is not None:
                params["cursor"] = cursor
            page = self.call(user, "GET", "/tasks", params=params).json()
            for task in page["items"]:
                assert task["id"] not in found, "a cursor page repeated a task"
                found[task["id"]] = task
            cursor = page["next_cursor"]
            if cursor is None:
                assert len(found) == page["total"]
                return found


def test_every_replica_that_catches_up_equals_the_server(
    api: SyncApi, database_backend: str
) -> None:
    machine = type("Sync", (SyncMachine,), {"api": api})
    run_state_machine_as_test(
        machine,
        settings=settings(
            # The long run where commits truly interleave; a short one elsewhere keeps CI fast.
            max_examples=40 if database_backend == "postgresql" else 12,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
