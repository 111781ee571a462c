"""The in-memory model tests/test_stateful.py checks the API against: what each user should
see, and what a write leaves of a task's due date, recurrence and completion."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal


def full_recurrence(sent: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if sent is None else {"time_zone": "UTC", "from": "due", **sent}


def expected_write(
    before: dict[str, Any], body: dict[str, Any], completed: bool | None
) -> dict[str, Any] | None:
    """The due date, recurrence and completion a write leaves (None: a 422, no change): a
    completion of an open recurring task moves it a day on while COUNT lasts."""
    due = body.get("due_at", before["due_at"])
    recurrence = (
        full_recurrence(body["recurrence"]) if "recurrence" in body else before["recurrence"]
    )
    if recurrence is not None and due is None:
        return None
    if completed is None:
        completed = before["completed"]
    elif completed and not before["completed"] and recurrence is not None:
        count = int(recurrence["rule"].rsplit("=", 1)[1])
        if count > 1:
            completed = False
            due = (parse_time(due) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            recurrence = {**recurrence, "rule": f"FREQ=DAILY;COUNT={count - 1}"}
    return {"due_at": due, "recurrence": recurrence, "completed": completed}


class SyncApi:
    """Synchronous calls into an app that lives on a blocking portal's event loop."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Stored:
    owner: int
    task: dict[str, Any]


@dataclass
class TaskRef:
    id: str
    owner: int


@dataclass
class Model:
    """What each user should see: the latest representation of every live task."""

    live: dict[str, Stored] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    # Each sibling group's ids in manual order, by parent id (None: top-level) and owner.
    order: dict[tuple[int, str | None], list[str]] = field(default_factory=dict)

    def group(self, owner: int, parent_id: str | None) -> list[str]:
        return self.order.setdefault((owner, parent_id), [])

    def levels(self, task_id: str) -> int:
        parent_id = self.live[task_id].task["parent_id"]
        return 1 if parent_id is None else 1 + self.levels(parent_id)

    def subtree(self, task_id: str) -> list[str]:
        below = [tid for tid, s in self.live.items() if s.task["parent_id"] == task_id]
        return [task_id, *(tid for child in below for tid in self.subtree(child))]
