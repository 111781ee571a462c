"""CalDAV's `RRULE` with `DUE;TZID=` and the task's `recurrence`, both ways, on every
backend: time zones across daylight saving, a completion over CalDAV advancing the task as
the REST completion does, and rules the API does not take kept in the text as sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

from tests.conftest import ApiUser, TaskFactory
from tests.dav_support import Dav, todo

BERLIN = ZoneInfo("Europe/Berlin")


def parsed(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    calendar = Calendar.from_ical(response.text)
    return calendar, calendar.walk("VTODO")[0]


async def only_task(client: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    items = (await client.get("/tasks", headers=user.headers)).json()["items"]
    assert len(items) == 1, items
    task: dict[str, Any] = items[0]
    return task


async def test_rrule_and_due_tzid_make_a_recurrence(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    text = todo(
        "weekly",
        "DUE;TZID=Europe/Berlin:20261026T090000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5",
        summary="Stand-up notes",
    )
    assert (await dav.put(f"{collection}w.ics", text)).status_code == 201
    task = await only_task(client, alice)
    assert task["due_at"] == "2026-10-26T08:00:00Z"
    assert task["recurrence"] == {
        "rule": "FREQ=WEEKLY;BYDAY=MO;COUNT=5",
        "time_zone": "Europe/Berlin",
        "from": "due",
    }
    _calendar, component = parsed(await dav.request("GET", f"{collection}w.ics"))
    assert component["DUE"].dt == datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN)
    # A date-only or UTC DUE: the rule's zone is UTC.
    dated = todo("d", "DUE;VALUE=DATE:20261201", "RRULE:FREQ=DAILY", summary="Daily")
    assert (await dav.put(f"{collection}d.ics", dated)).status_code == 201
    items = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    daily = next(item for item in items if item["title"] == "Daily")
    assert daily["recurrence"] == {"rule": "FREQ=DAILY", "time_zone": "UTC", "from": "due"}


async def test_a_rest_recurrence_is_written_in_its_zone_with_a_vtimezone(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    task = await create_task(
        alice,
        title="Bins",
        due_at="2026-03-23T08:00:00Z",
        recurrence={"rule": "FREQ=WEEKLY;COUNT=3", "time_zone": "Europe/Berlin"},
    )
    response = await dav.request("GET", f"{collection}{task['id']}.ics")
    assert "DUE;TZID=Europe/Berlin:20260323T090000" in response.text
    assert "RRULE:FREQ=WEEKLY;COUNT=3" in response.text
    calendar, component = parsed(response)
    zones = calendar.walk("VTIMEZONE")
    assert [str(zone["TZID"]) for zone in zones] == ["Europe/Berlin"]
    assert component["DUE"].dt.utcoffset().total_seconds() == 3600
    assert str(component["RRULE"].to_ical().decode()) == "FREQ=WEEKLY;COUNT=3"
    # A UTC recurrence has no TZID to define.
    utc = await create_task(
        alice, title="UTC", due_at="2026-03-23T08:00:00Z", recurrence={"rule": "FREQ=DAILY"}
    )
    text = (await dav.request("GET", f"{collection}{utc['id']}.ics")).text
    assert "DUE:20260323T080000Z" in text
    assert "VTIMEZONE" not in text


async def test_a_completion_over_caldav_advances_the_task_across_dst(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    lines = ["DUE;TZID=Europe/Berlin:20261019T090000", "RRULE:FREQ=WEEKLY;COUNT=3"]
    assert (await dav.put(f"{collection}r.ics", todo("r", *lines))).status_code == 201
    done = todo("r", *lines, "STATUS:COMPLETED", "COMPLETED:20261019T100000Z")
    put = await dav.put(f"{collection}r.ics", done)
    assert put.status_code == 204, put.text
    task = await only_task(client, alice)
    # The Sunday between, Berlin left summer time: 09:00 local is now 08:00 UTC.
    assert (task["completed"], task["due_at"]) == (False, "2026-10-26T08:00:00Z")
    assert task["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=2"
    got = await dav.request("GET", f"{collection}r.ics")
    assert got.headers["etag"] == task["etag"] == put.headers["etag"]
    _calendar, component = parsed(got)
    assert str(component["STATUS"]) == "NEEDS-ACTION"
    assert "COMPLETED" not in component
    assert component["DUE"].dt == datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN)
    assert "RRULE:FREQ=WEEKLY;COUNT=2" in got.text
    # The client completes what it now holds; then the last occurrence completes the task.
    again = got.text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    assert (await dav.put(f"{collection}r.ics", again)).status_code == 204
    task = await only_task(client, alice)
    assert (task["completed"], task["due_at"]) == (False, "2026-11-02T08:00:00Z")
    assert task["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=1"
    last = (await dav.request("GET", f"{collection}r.ics")).text
    assert (
        await dav.put(f"{collection}r.ics", last.replace("NEEDS-ACTION", "COMPLETED"))
    ).is_success
    assert (await only_task(client, alice))["completed"] is True


async def test_rules_the_api_does_not_take_are_kept_as_sent(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    due = "DUE:20261201T090000Z"
    cases = {
        "hourly": [due, "RRULE:FREQ=HOURLY;INTERVAL=2"],
        "byhour": [due, "RRULE:FREQ=DAILY;BYHOUR=9,17"],
        "no-due": ["DTSTART:20261201T090000Z", "RRULE:FREQ=DAILY"],
        "past": [due, "RRULE:FREQ=DAILY;UNTIL=20261101T000000Z"],
        "both": [due, "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20261231T000000Z"],
        "empty": [due, "RRULE:"],
    }
    for name, lines in cases.items():
        response = await dav.put(f"{collection}{name}.ics", todo(name, *lines, summary=name))
        assert response.status_code == 201, (name, response.text)
    items = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    assert {item["title"]: item["recurrence"] for item in items} == dict.fromkeys(cases)
    for name, lines in cases.items():
        got = (await dav.request("GET", f"{collection}{name}.ics")).text
        assert lines[1] in got, (name, got)
    # A REST edit of the due date writes DUE from the task and keeps the rule.
    hourly = next(item for item in items if item["title"] == "hourly")
    patched = await client.patch(
        f"/tasks/{hourly['id']}", json={"due_at": "2026-12-02T10:00:00Z"}, headers=alice.headers
    )
    assert patched.status_code == 200, patched.text
    got = (await dav.request("GET", f"{collection}hourly.ics")).text
    assert "DUE:20261202T100000Z" in got
    assert "RRULE:FREQ=HOURLY;INTERVAL=2" in got


async def test_rest_changes_of_the_recurrence_show_over_caldav(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    lines = ["DUE;TZID=America/New_York:20261101T080000", "RRULE:FREQ=DAILY"]
    assert (await dav.put(f"{collection}n.ics", todo("n", *lines))).status_code == 201
    task = await only_task(client, alice)
    assert task["recurrence"]["time_zone"] == "America/New_York"
    # Into another zone over REST: DUE in the new zone, its VTIMEZONE added.
    recurrence = {"rule": "FREQ=WEEKLY", "time_zone": "Asia/Tokyo"}
    response = await client.patch(
        f"/tasks/{task['id']}", json={"recurrence": recurrence}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    calendar, component = parsed(await dav.request("GET", f"{collection}n.ics"))
    assert "Asia/Tokyo" in [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")]
    assert str(component["DUE"].params["TZID"]) == "Asia/Tokyo"
    assert component["RRULE"].to_ical() == b"FREQ=WEEKLY"
    # Stopped over REST: no RRULE; a PUT without RRULE stops it over CalDAV.
    response = await client.patch(
        f"/tasks/{task['id']}", json={"recurrence": None}, headers=alice.headers
    )
    assert response.status_code == 200
    assert "RRULE" not in (await dav.request("GET", f"{collection}n.ics")).text
    assert (await dav.put(f"{collection}n.ics", todo("n", *lines))).status_code == 204
    assert (await only_task(client, alice))["recurrence"] is not None
    assert (await dav.put(f"{collection}n.ics", todo("n", lines[0]))).status_code == 204
    assert (await only_task(client, alice))["recurrence"] is None


async def test_a_recurrence_from_completion_survives_a_clients_unchanged_rule(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    recurrence = {"rule": "FREQ=DAILY;INTERVAL=3", "time_zone": "UTC", "from": "completion"}
    task = await create_task(
        alice, title="Water", due_at="2026-12-01T18:00:00Z", recurrence=recurrence
    )
    path = f"{collection}{task['id']}.ics"
    text = (await dav.request("GET", path)).text
    edited = text.replace("SUMMARY:Water", "SUMMARY:Water the plants")
    assert (await dav.put(path, edited)).status_code == 204
    assert (await only_task(client, alice))["recurrence"] == recurrence
    changed = edited.replace("INTERVAL=3", "INTERVAL=4")
    assert (await dav.put(path, changed)).status_code == 204
    assert (await only_task(client, alice))["recurrence"]["from"] == "due"


async def test_a_tzid_without_vtimezone_gets_one_on_the_way_back(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    lines = ["DUE;TZID=Australia/Sydney:20261201T070000", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1"]
    assert (await dav.put(f"{collection}s.ics", todo("s", *lines))).status_code == 201
    got = await dav.request("GET", f"{collection}s.ics")
    calendar, component = parsed(got)
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Australia/Sydney"]
    assert lines[0] in got.text
    assert component["DUE"].dt == datetime(2026, 12, 1, 7, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    task = await only_task(client, alice)
    assert task["due_at"] == "2026-11-30T20:00:00Z"
    assert task["recurrence"]["time_zone"] == "Australia/Sydney"


async def test_a_clients_recurring_subtask_comes_back_as_sent(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    parent = await create_task(alice, title="Parent")
    response = await dav.request("GET", f"{collection}{parent['id']}.ics")
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    assert response.status_code == 200
    # A fold where no writer of this service would put one: only the client's own text,
    # unparsed, keeps it.
    text = todo(
        "kid",
        "DESCRIPTION:short, fol\r\n ded",
        "DUE;TZID=Europe/Berlin:20261207T090000",
        "RRULE:FREQ=weekly;byday=MO",
        f"RELATED-TO;RELTYPE=PARENT:{parent['id']}",
    ).replace("BEGIN:VTODO", zone + "BEGIN:VTODO")
    assert (await dav.put(f"{collection}kid.ics", text)).status_code == 201
    got = (await dav.request("GET", f"{collection}kid.ics")).text
    assert "DESCRIPTION:short, fol\r\n ded" in got
    assert "RRULE:FREQ=weekly;byday=MO" in got
    assert got.count("BEGIN:VTIMEZONE") == 1
    items = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    kid = next(item for item in items if item["parent_id"] == parent["id"])
    assert kid["recurrence"] == {
        "rule": "FREQ=WEEKLY;BYDAY=MO",
        "time_zone": "Europe/Berlin",
        "from": "due",
    }


async def test_one_put_that_moves_and_completes_a_recurring_task_does_both(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    parent = await create_task(alice, title="Chores")
    lines = ["DUE:20261201T090000Z", "RRULE:FREQ=DAILY;COUNT=2"]
    assert (await dav.put(f"{collection}r.ics", todo("r", *lines))).status_code == 201
    moved = todo("r", *lines, f"RELATED-TO:{parent['id']}", "STATUS:COMPLETED")
    assert (await dav.put(f"{collection}r.ics", moved)).status_code == 204
    task = next(
        item
        for item in (await client.get("/tasks", headers=alice.headers)).json()["items"]
        if item["id"] != parent["id"]
    )
    assert (task["parent_id"], task["completed"], task["due_at"]) == (
        parent["id"],
        False,
        "2026-12-02T09:00:00Z",
    )
    assert task["recurrence"]["rule"] == "FREQ=DAILY;COUNT=1"
