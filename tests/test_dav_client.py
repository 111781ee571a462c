"""The `caldav` library, a real CalDAV client, against a real server process: discovery from
the bare server address, then create, edit, complete, delete, search and sync by token. The
library runs in the clients' own environment (tests/client_tools.py), one command a run
(tests/clients/caldav_client.py)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import SERVER_SETTINGS
from tests.client_tools import client_tools
from tests.conftest import bearer, make_token
from tests.servers import Server, clean_environment, running_server

pytestmark = pytest.mark.server

DRIVER = Path(__file__).parent / "clients" / "caldav_client.py"
Client = Callable[..., Any]


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dav-server")
    env = clean_environment(DATABASE_URL=database_url, **SERVER_SETTINGS)
    with running_server(folder, env) as running:
        yield running


@pytest.fixture(scope="module")
def python() -> str:
    return str(client_tools() / "python")


@pytest.fixture
def token() -> str:
    return make_token(f"user-{uuid.uuid4().hex}", lifetime=timedelta(minutes=10))


@pytest.fixture
def caldav(server: Server, token: str, python: str) -> Client:
    """Run one command of the caldav library as this user; what it saw."""

    def run(command: str, *arguments: str) -> Any:
        done = subprocess.run(
            [python, str(DRIVER), server.url, token, command, *arguments],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


@pytest.fixture
def rest(server: Server, token: str) -> Client:
    def request(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, server.url + path, headers=bearer(token), **kwargs)

    return request


def test_discovery_finds_the_default_list(caldav: Client) -> None:
    assert caldav("calendars") == [{"name": "Tasks", "components": ["VTODO"]}]


def test_create_edit_complete_delete(caldav: Client, rest: Client) -> None:
    caldav("make-calendar", "Shopping")
    milk = {"summary": "Buy milk", "due": "2026-12-24T17:00:00+00:00", "priority": 1}
    uid = caldav("save-todo", "Shopping", json.dumps({**milk, "categories": ["Home"]}))["uid"]
    lists = rest("GET", "/lists").json()["items"]
    assert sorted(item["name"] for item in lists) == ["Shopping", "Tasks"]
    tasks = rest("GET", "/tasks").json()["items"]
    assert [(t["title"], t["priority"], t["due_at"], t["tags"]) for t in tasks] == [
        ("Buy milk", "high", "2026-12-24T17:00:00Z", ["home"])
    ]
    caldav("rename-todo", "Shopping", uid, "Buy oat milk")
    assert rest("GET", "/tasks").json()["items"][0]["title"] == "Buy oat milk"
    caldav("complete-todo", "Shopping", uid)
    assert rest("GET", "/tasks").json()["items"][0]["completed"] is True
    assert caldav("todos", "Shopping", "open") == []
    assert caldav("todos", "Shopping", "all") == ["Buy oat milk"]
    caldav("delete-todo", "Shopping", uid)
    assert rest("GET", "/tasks").json()["items"] == []


def test_search_and_rest_changes_seen_by_the_client(caldav: Client, rest: Client) -> None:
    caldav("save-todo", "Tasks", json.dumps({"summary": "Water the plants"}))
    posted = rest("POST", "/tasks", json={"title": "Call the bank"})
    assert posted.status_code == 201
    assert caldav("search", "Tasks", "bank") == ["Call the bank"]
    assert caldav("todo-by-uid", "Tasks", posted.json()["id"]) == "Call the bank"


def test_sync_by_token(caldav: Client) -> None:
    caldav("make-calendar", "Synced")
    one = caldav("save-todo", "Synced", json.dumps({"summary": "one"}))["uid"]
    first = caldav("sync", "Synced")
    assert first["summaries"] == ["one"]
    caldav("save-todo", "Synced", json.dumps({"summary": "two"}))
    caldav("delete-todo", "Synced", one)
    assert caldav("sync", "Synced", first["token"])["summaries"] == ["two"]


def test_a_recurring_subtask_made_by_the_client_reads_back_over_rest(
    caldav: Client, rest: Client
) -> None:
    caldav("make-calendar", "Home")
    garden = caldav("save-todo", "Home", json.dumps({"summary": "Garden"}))["uid"]
    mow = {
        "summary": "Mow the lawn",
        "due": "2026-10-19T09:00:00",
        "due_zone": "Europe/Berlin",
        "rrule": {"FREQ": "WEEKLY", "COUNT": 3},
        "parent": [garden],
    }
    uid = caldav("save-todo", "Home", json.dumps(mow))["uid"]
    tasks = {t["title"]: t for t in rest("GET", "/tasks").json()["items"]}
    task = tasks["Mow the lawn"]
    assert task["parent_id"] == tasks["Garden"]["id"]
    assert task["due_at"] == "2026-10-19T07:00:00Z"
    assert task["recurrence"] == {
        "rule": "FREQ=WEEKLY;COUNT=3",
        "time_zone": "Europe/Berlin",
        "from": "due",
    }
    # The library's completion (STATUS:COMPLETED) advances the task past the DST change.
    caldav("complete-todo", "Home", uid)
    assert caldav("read-todo", "Home", uid) == {
        "status": "NEEDS-ACTION",
        "due": "2026-10-26T09:00:00+01:00",
        "due_zone": "Europe/Berlin",
        "rrule": "FREQ=WEEKLY;COUNT=2",
        "related_to": [garden, "PARENT"],
    }
    task = rest("GET", f"/tasks/{task['id']}").json()
    assert (task["completed"], task["due_at"]) == (False, "2026-10-26T08:00:00Z")
    assert task["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=2"
