"""The `caldav` library, a real CalDAV client, against a real server process: discovery from
the bare server address, then create, edit, complete, delete, search and sync by token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import caldav
import httpx
import pytest

from tests.cli_support import SERVER_SETTINGS
from tests.conftest import bearer, make_token
from tests.servers import Server, clean_environment, running_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dav-server")
    env = clean_environment(DATABASE_URL=database_url, **SERVER_SETTINGS)
    with running_server(folder, env) as running:
        yield running


@pytest.fixture
def token() -> str:
    return make_token(f"user-{uuid.uuid4().hex}", lifetime=timedelta(minutes=10))


@pytest.fixture
def principal(server: Server, token: str) -> caldav.Principal:
    client = caldav.DAVClient(url=server.url, headers=bearer(token), require_tls=False)
    return client.principal()


def rest(server: Server, token: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=bearer(token), **kwargs)  # type: ignore[arg-type]


def test_discovery_finds_the_default_list(principal: caldav.Principal) -> None:
    calendars = principal.calendars()
    assert [calendar.get_display_name() for calendar in calendars] == ["Tasks"]
    assert calendars[0].get_supported_components() == ["VTODO"]


def test_create_edit_complete_delete(
    principal: caldav.Principal, server: Server, token: str
) -> None:
    calendar = principal.make_calendar(name="Shopping")
    due = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    created = calendar.save_todo(summary="Buy milk", due=due, priority=1, categories=["Home"])
    lists = rest(server, token, "GET", "/lists").json()["items"]
    assert sorted(item["name"] for item in lists) == ["Shopping", "Tasks"]
    tasks = rest(server, token, "GET", "/tasks").json()["items"]
    assert [(t["title"], t["priority"], t["due_at"], t["tags"]) for t in tasks] == [
        ("Buy milk", "high", "2026-12-24T17:00:00Z", ["home"])
    ]
    created.icalendar_component["SUMMARY"] = "Buy oat milk"
    created.save()
    assert rest(server, token, "GET", "/tasks").json()["items"][0]["title"] == "Buy oat milk"
    created.complete()
    task = rest(server, token, "GET", "/tasks").json()["items"][0]
    assert task["completed"] is True
    assert calendar.todos() == []
    assert len(calendar.todos(include_completed=True)) == 1
    created.delete()
    assert rest(server, token, "GET", "/tasks").json()["items"] == []


def test_search_and_rest_changes_seen_by_the_client(
    principal: caldav.Principal, server: Server, token: str
) -> None:
    calendar = principal.calendars()[0]
    calendar.save_todo(summary="Water the plants")
    posted = rest(server, token, "POST", "/tasks", json={"title": "Call the bank"})
    assert posted.status_code == 201
    found = calendar.search(todo=True, summary="bank")
    assert [str(item.icalendar_component["SUMMARY"]) for item in found] == ["Call the bank"]
    todo = calendar.todo_by_uid(posted.json()["id"])
    assert str(todo.icalendar_component["SUMMARY"]) == "Call the bank"


def test_sync_by_token(principal: caldav.Principal, server: Server, token: str) -> None:
    calendar = principal.make_calendar(name="Synced")
    first = calendar.save_todo(summary="one")
    objects = calendar.objects_by_sync_token(load_objects=True)
    assert len(list(objects)) == 1
    calendar.save_todo(summary="two")
    first.delete()
    updates = calendar.objects_by_sync_token(sync_token=objects.sync_token, load_objects=True)
    summaries = sorted(
        str(item.icalendar_component["SUMMARY"]) for item in updates if item.data is not None
    )
    assert summaries == ["two"]


def test_a_recurring_subtask_made_by_the_client_reads_back_over_rest(
    principal: caldav.Principal, server: Server, token: str
) -> None:
    calendar = principal.make_calendar(name="Home")
    parent = calendar.save_todo(summary="Garden")
    due = datetime(2026, 10, 19, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    child = calendar.save_todo(
        summary="Mow the lawn",
        due=due,
        rrule={"FREQ": "WEEKLY", "COUNT": 3},
        parent=[str(parent.icalendar_component["UID"])],
    )
    tasks = {t["title"]: t for t in rest(server, token, "GET", "/tasks").json()["items"]}
    mow = tasks["Mow the lawn"]
    assert mow["parent_id"] == tasks["Garden"]["id"]
    assert mow["due_at"] == "2026-10-19T07:00:00Z"
    assert mow["recurrence"] == {
        "rule": "FREQ=WEEKLY;COUNT=3",
        "time_zone": "Europe/Berlin",
        "from": "due",
    }
    # The library's completion (STATUS:COMPLETED) advances the task past the DST change.
    child.complete()
    child.load()
    component = child.icalendar_component
    assert str(component["STATUS"]) == "NEEDS-ACTION"
    assert component["DUE"].dt == datetime(2026, 10, 26, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert component["RRULE"]["COUNT"] == [2]
    related = component["RELATED-TO"]
    assert (str(related), related.params["RELTYPE"]) == (
        str(parent.icalendar_component["UID"]),
        "PARENT",
    )
    mow = rest(server, token, "GET", f"/tasks/{mow['id']}").json()
    assert (mow["completed"], mow["due_at"]) == (False, "2026-10-26T08:00:00Z")
    assert mow["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=2"
