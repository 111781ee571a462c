"""Random sequences of task operations by several users, checked against an in-memory model.

Hypothesis drives create, replace (PUT), patch, toggle, delete, read and list (with
filters, sorting and paging) through the HTTP API as three users, with due dates and
recurrences (a completion moves a recurring task on, or 422 when a write leaves it
without a due date), including attempts on each other's tasks (403, nothing changes) and
on deleted or unknown ids (404); and subtasks and manual order: subtasks created under any
task (422 for a parent that is not the caller's, gone, or four levels deep), moves among
siblings (422 for an `after` that is not one), deletions taking subtrees along, siblings
listed in their manual order. After every
call the response must be exactly what the model says that user should see.

The app runs in-process on its own event loop thread (an anyio blocking portal), so the
synchronous state machine can call it without a server process; once per database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import bearer, make_settings, make_token
from tests.servers import open_client
from tests.task_model import (
    Model,
    Stored,
    SyncApi,
    TaskRef,
    expected_write,
    full_recurrence,
    parse_time,
)
from todo_api.app import create_app

USERS = 3
SORTS = ["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]

# Titles of lower-case ASCII letters sort the same under every common collation, so the
# model's code-point order is the database's. Descriptions and queries mix case, accents
# and LIKE wildcards to test the case-insensitive, literal substring search.
title_core = st.text("abcd", min_size=1, max_size=4)
titles = st.builds(lambda pad, core: pad + core + pad, st.sampled_from(["", " ", "\t"]), title_core)
descriptions = st.one_of(st.none(), st.text("aAbBéÉ%_ ", max_size=6))
queries = st.one_of(st.none(), st.text("abAÉé%_", min_size=1, max_size=2))
user_numbers = st.integers(min_value=0, max_value=USERS - 1)
# A daily rule counted down by each completion, from one of two due dates.
DUE_DATES = ["2026-01-05T08:00:00Z", "2026-01-07T08:00:00Z"]
due_dates = st.sampled_from(DUE_DATES)
recurrences = st.one_of(
    st.none(), st.builds(lambda n: {"rule": f"FREQ=DAILY;COUNT={n}"}, st.integers(1, 3))
)


@st.composite
def full_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"title": draw(titles)}
    if draw(st.booleans()):
        body["description"] = draw(descriptions)
    if draw(st.booleans()):
        body["completed"] = draw(st.booleans())
    if draw(st.booleans()):
        body["due_at"] = draw(due_dates)
        if draw(st.booleans()):
            body["recurrence"] = draw(recurrences)
    return body


patch_bodies = st.fixed_dictionaries(
    {},
    optional={
        "title": titles,
        "description": descriptions,
        "completed": st.booleans(),
        "due_at": st.one_of(st.none(), due_dates),
        "recurrence": recurrences,
    },
).filter(bool)


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[SyncApi]:
    app_settings = make_settings(database_url, log_level="WARNING")
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(open_client(create_app(app_settings))) as client,
    ):
        yield SyncApi(portal, client)


class TaskApiMachine(RuleBasedStateMachine):
    api: ClassVar[SyncApi]
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        # Fresh users for every run, so earlier runs' tasks never show up in a list.
        run = uuid.uuid4().hex[:12]
        self.headers = [
            bearer(make_token(f"model-{run}-{number}", lifetime=timedelta(hours=1)))
            for number in range(USERS)
        ]

    def call(self, actor: int, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.api.request(method, url, headers=self.headers[actor], **kwargs)

    def expect_refusal(self, response: httpx.Response, ref: TaskRef, actor: int) -> bool:
        """Assert a 404 or 403 where the model predicts one; True when the call was refused."""
        if ref.id in self.model.deleted:
            expected = 404
        elif ref.owner != actor:
            expected = 403
        else:
            return False
        assert response.status_code == expected, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert ref.id not in response.text
        return True

    def expect_invalid(self, response: httpx.Response, written: dict[str, Any] | None) -> bool:
        """Assert the 422 of a write that would leave a recurring task without a due date."""
        if written is not None:
            return False
        assert response.status_code == 422, response.text
        return True

    def accept_update(self, response: httpx.Response, ref: TaskRef, wanted: dict[str, Any]) -> None:
        assert response.status_code == 200, response.text
        before = self.model.live[ref.id].task
        after = response.json()
        assert after["id"] == ref.id
        for name, value in wanted.items():
            assert after[name] == value, name
        assert after["created_at"] == before["created_at"]
        assert parse_time(after["updated_at"]) > parse_time(before["updated_at"])
        if not after["completed"]:
            assert after["completed_at"] is None
        elif before["completed"]:
            assert after["completed_at"] == before["completed_at"]
        else:
            assert after["completed_at"] == after["updated_at"]
        self.model.live[ref.id].task = after

    @initialize(target=tasks)
    def start(self) -> Any:
        # An id nobody ever had: every operation on it is a 404.
        unknown = str(uuid.uuid4())
        self.model.deleted.add(unknown)
        return multiple(TaskRef(unknown, owner=0))

    @rule(target=tasks, actor=user_numbers, body=full_bodies())
    def create(self, actor: int, body: dict[str, Any]) -> TaskRef:
        response = self.call(actor, "POST", "/tasks", json=body)
        assert response.status_code == 201, response.text
        task = response.json()
        assert response.headers["location"] == f"/tasks/{task['id']}"
        assert task["title"] == body["title"].strip()
        assert task["description"] == body.get("description")
        assert task["completed"] is body.get("completed", False)
        assert task["due_at"] == body.get("due_at")
        assert task["recurrence"] == full_recurrence(body.get("recurrence"))
        assert task["created_at"] == task["updated_at"]
        assert task["completed_at"] == (task["created_at"] if task["completed"] else None)
        self.model.live[task["id"]] = Stored(owner=actor, task=task)
        self.model.group(actor, None).append(task["id"])
        return TaskRef(task["id"], owner=actor)

    @rule(target=tasks, parent=tasks, actor=user_numbers)
    def create_subtask(self, parent: TaskRef, actor: int) -> Any:
        body = {"title": "sub", "parent_id": parent.id}
        response = self.call(actor, "POST", "/tasks", json=body)
        live = parent.id in self.model.live and parent.owner == actor
        if not live or self.model.levels(parent.id) >= 4:
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["loc"] == ["body", "parent_id"]
            return multiple()
        assert response.status_code == 201, response.text
        task = response.json()
        assert task["parent_id"] == parent.id
        assert task["list_id"] == self.model.live[parent.id].task["list_id"]
        self.model.live[task["id"]] = Stored(owner=actor, task=task)
        self.model.group(actor, parent.id).append(task["id"])
        return TaskRef(task["id"], owner=actor)

    @rule(ref=tasks, after=st.one_of(st.none(), tasks), actor=user_numbers)
    def move(self, ref: TaskRef, after: TaskRef | None, actor: int) -> None:
        body = {"after": None if after is None else after.id}
        response = self.call(actor, "POST", f"/tasks/{ref.id}/move", json=body)
        if self.expect_refusal(response, ref, actor):
            return
        parent_id = self.model.live[ref.id].task["parent_id"]
        siblings = self.model.group(actor, parent_id)
        if after is not None and (after.id == ref.id or after.id not in siblings):
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["loc"] == ["body", "after"]
            return
        assert response.status_code == 200, response.text
        siblings.remove(ref.id)
        siblings.insert(0 if after is None else siblings.index(after.id) + 1, ref.id)
        self.model.live[ref.id].task = response.json()
        # A renumbered group changed its other tasks too: read them again.
        for sibling in siblings:
            self.model.live[sibling].task = self.call(actor, "GET", f"/tasks/{sibling}").json()

    @rule(actor=user_numbers, parent=st.one_of(st.none(), tasks))
    def siblings_in_manual_order(self, actor: int, parent: TaskRef | None) -> None:
        params: dict[str, Any] = {"sort": "position", "limit": 200}
        if parent is None:
            params["top_level"] = "true"
        else:
            params["parent_id"] = parent.id
        response = self.call(actor, "GET", "/tasks", params=params)
        assert response.status_code == 200, response.text
        expected = self.model.order.get((actor, None if parent is None else parent.id), [])
        assert [task["id"] for task in response.json()["items"]] == expected

    @rule(ref=tasks, actor=user_numbers)
    def read(self, ref: TaskRef, actor: int) -> None:
        response = self.call(actor, "GET", f"/tasks/{ref.id}")
        if not self.expect_refusal(response, ref, actor):
            assert response.status_code == 200, response.text
            assert response.json() == self.model.live[ref.id].task

    @rule(ref=tasks, actor=user_numbers, body=full_bodies())
    def replace(self, ref: TaskRef, actor: int, body: dict[str, Any]) -> None:
        response = self.call(actor, "PUT", f"/tasks/{ref.id}", json=body)
        if not self.expect_refusal(response, ref, actor):
            before = self.model.live[ref.id].task
            written = expected_write(before, {"due_at": None, **body}, body.get("completed", False))
            if self.expect_invalid(response, written):
                return
            wanted = {"title": body["title"].strip(), "description": body.get("description")}
            self.accept_update(response, ref, {**wanted, **(written or {})})

    @rule(ref=tasks, actor=user_numbers, body=patch_bodies)
    def patch(self, ref: TaskRef, actor: int, body: dict[str, Any]) -> None:
        response = self.call(actor, "PATCH", f"/tasks/{ref.id}", json=body)
        if body.get("recurrence") and "due_at" in body and body["due_at"] is None:
            # Wrong in itself, whoever's task it names: refused before the task is looked up.
            self.expect_invalid(response, None)
        elif not self.expect_refusal(response, ref, actor):
            before = self.model.live[ref.id].task
            written = expected_write(before, body, body.get("completed"))
            if self.expect_invalid(response, written):
                return
            wanted = {**body, **(written or {})}
            if "title" in wanted:
                wanted["title"] = wanted["title"].strip()
            self.accept_update(response, ref, wanted)

    @rule(ref=tasks, actor=user_numbers)
    def toggle(self, ref: TaskRef, actor: int) -> None:
        response = self.call(actor, "PATCH", f"/tasks/{ref.id}/toggle")
        if not self.expect_refusal(response, ref, actor):
            before = self.model.live[ref.id].task
            written = expected_write(before, {}, not before["completed"])
            self.accept_update(response, ref, written or {})

    @rule(ref=tasks, actor=user_numbers)
    def delete(self, ref: TaskRef, actor: int) -> None:
        response = self.call(actor, "DELETE", f"/tasks/{ref.id}")
        if not self.expect_refusal(response, ref, actor):
            assert response.status_code == 204, response.text
            assert response.content == b""
            for gone in self.model.subtree(ref.id):
                stored = self.model.live.pop(gone)
                self.model.group(stored.owner, stored.task["parent_id"]).remove(gone)
                self.model.deleted.add(gone)

    @rule(ref=consumes(tasks), actor=user_numbers)
    def delete_by_owner_or_not(self, ref: TaskRef, actor: int) -> None:
        # Consuming the reference keeps the bundle from filling with dead ids; a refused
        # delete leaves the task as it was, which later lists still check.
        self.delete(ref, actor)

    @rule(
        actor=user_numbers,
        completed=st.sampled_from([None, True, False]),
        query=queries,
        sort=st.sampled_from(SORTS),
        limit=st.one_of(st.integers(min_value=1, max_value=4), st.just(200)),
        offset=st.integers(min_value=0, max_value=5),
    )
    def list_tasks(
        self,
        actor: int,
        completed: bool | None,
        query: str | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> None:
        params: dict[str, Any] = {"sort": sort, "limit": limit, "offset": offset}
        if completed is not None:
            params["completed"] = "true" if completed else "false"
        if query is not None:
            params["q"] = query
        response = self.call(actor, "GET", "/tasks", params=params)
        assert response.status_code == 200, response.text
        expected = self.visible(actor, completed, query, sort)
        page = response.json()
        assert page["total"] == len(expected)
        assert page["limit"] == limit
        assert page["offset"] == offset
        assert page["items"] == expected[offset : offset + limit]

    def visible(
        self, actor: int, completed: bool | None, query: str | None, sort: str
    ) -> list[dict[str, Any]]:
        tasks = [stored.task for stored in self.model.live.values() if stored.owner == actor]
        if completed is not None:
            tasks = [task for task in tasks if task["completed"] is completed]
        if query:
            needle = query.lower()
            tasks = [
                task
                for task in tasks
                if needle in task["title"].lower() or needle in (task["description"] or "").lower()
            ]
        key = sort.lstrip("-")

        def order(task: dict[str, Any]) -> tuple[Any, uuid.UUID]:
            value = task[key] if key == "title" else parse_time(task[key])
            return value, uuid.UUID(task["id"])

        return sorted(tasks, key=order, reverse=sort.startswith("-"))


def test_every_response_matches_the_model(api: SyncApi) -> None:
    machine = type("TaskApi", (TaskApiMachine,), {"api": api})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
