"""CalDAV resources: PUT, GET and DELETE of tasks, and the mapping both ways, on every
backend."""

from __future__ import annotations

import httpx
from icalendar import Calendar

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.dav_support import Dav, todo


def vtodo(response: httpx.Response) -> object:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.text).walk("VTODO")[0]


async def test_put_creates_a_task_that_rest_sees_with_the_same_etag(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    text = todo(
        "uid-1",
        "DESCRIPTION:Two litres",
        "PRIORITY:3",
        "DUE;VALUE=DATE:20261224",
        "CATEGORIES:Errands,Home",
    )
    response = await dav.put(f"{collection}milk.ics", text, **{"If-None-Match": "*"})
    assert response.status_code == 201, response.text
    etag = response.headers["etag"]
    tasks = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    assert len(tasks) == 1
    task = tasks[0]
    assert (task["title"], task["description"], task["priority"]) == (
        "Buy milk",
        "Two litres",
        "high",
    )
    assert task["due_at"] == "2026-12-24T00:00:00Z"
    assert task["tags"] == ["errands", "home"]
    assert task["etag"] == etag
    changes = (await client.get("/tasks/changes", headers=alice.headers)).json()
    assert [t["id"] for t in changes["tasks"]] == [task["id"]]
    got = await dav.request("GET", f"{collection}milk.ics")
    assert got.headers["etag"] == etag
    assert "DUE;VALUE=DATE:20261224" in got.text
    assert "PRIORITY:3" in got.text
    assert "CATEGORIES:Errands,Home" in got.text


async def test_what_the_service_does_not_model_comes_back_as_sent(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    text = todo(
        "uid-2",
        "DTSTART:20261201T090000Z",
        "X-APPLE-SORT-ORDER:123456",
        "DESCRIPTION;X-PARAM=kept:Notes",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:-PT15M",
        "END:VALARM",
    )
    assert (await dav.put(f"{collection}a.ics", text)).status_code == 201
    task = (await client.get("/tasks", headers=alice.headers)).json()["items"][0]
    patched = await client.patch(
        f"/tasks/{task['id']}",
        json={"title": "Buy oat milk", "completed": True},
        headers=alice.headers,
    )
    assert patched.status_code == 200
    got = await dav.request("GET", f"{collection}a.ics")
    assert got.headers["etag"] == patched.json()["etag"]
    for line in (
        "DTSTART:20261201T090000Z",
        "X-APPLE-SORT-ORDER:123456",
        "TRIGGER:-PT15M",
        "DESCRIPTION;X-PARAM=kept:Notes",
        "UID:uid-2",
        "SUMMARY:Buy oat milk",
        "STATUS:COMPLETED",
    ):
        assert line in got.text, (line, got.text)
    component = vtodo(got)
    assert component.walk("VALARM")  # type: ignore[attr-defined]


async def test_rest_tasks_are_resources_named_by_their_id(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(
        alice,
        title="From the web",
        priority="medium",
        tags=["a"],
        due_at="2026-12-01T17:00:00+01:00",
        completed=True,
    )
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    got = await dav.request("GET", f"{collection}{task['id']}.ics")
    component = vtodo(got)
    assert got.headers["etag"] == task["etag"]
    assert str(component["UID"]) == task["id"]  # type: ignore[index]
    for line in (
        "SUMMARY:From the web",
        "PRIORITY:5",
        "DUE:20261201T160000Z",
        "STATUS:COMPLETED",
        "CATEGORIES:a",
    ):
        assert line in got.text
    # A PUT of the resource edits the task in place.
    text = got.text.replace("SUMMARY:From the web", "SUMMARY:Edited in a calendar")
    response = await dav.put(f"{collection}{task['id']}.ics", text, **{"If-Match": task["etag"]})
    assert response.status_code == 204, response.text
    fresh = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fresh["title"] == "Edited in a calendar"
    assert fresh["etag"] == response.headers["etag"]


async def test_conditional_puts_and_deletes(client: httpx.AsyncClient, alice: ApiUser) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    path = f"{collection}c.ics"
    created = await dav.put(path, todo("uid-c"), **{"If-None-Match": "*"})
    assert created.status_code == 201
    again = await dav.put(path, todo("uid-c"), **{"If-None-Match": "*"})
    assert again.status_code == 412
    stale = await dav.put(path, todo("uid-c", summary="x"), **{"If-Match": '"999"'})
    assert stale.status_code == 412
    updated = await dav.put(
        path, todo("uid-c", summary="y"), **{"If-Match": created.headers["etag"]}
    )
    assert updated.status_code == 204
    assert updated.headers["etag"] != created.headers["etag"]
    missing = await dav.put(f"{collection}none.ics", todo(), **{"If-Match": '"5"'})
    assert missing.status_code == 412
    refused = await dav.request("DELETE", path, **{"If-Match": created.headers["etag"]})
    assert refused.status_code == 412
    deleted = await dav.request("DELETE", path, **{"If-Match": updated.headers["etag"]})
    assert deleted.status_code == 204
    assert_problem(await dav.request("GET", path), 404)
    assert (await client.get("/tasks", headers=alice.headers)).json()["items"] == []


async def test_anything_but_one_vtodo_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    event = todo("e").replace("VTODO", "VEVENT")
    two = todo("t").replace("END:VCALENDAR", "BEGIN:VTODO\r\nUID:u2\r\nEND:VTODO\r\nEND:VCALENDAR")
    no_uid = todo("x").replace("UID:x\r\n", "")
    cases = {
        event: b"supported-calendar-component",
        two: b"valid-calendar-object-resource",
        no_uid: b"valid-calendar-object-resource",
        "not a calendar": b"valid-calendar-data",
        todo("p", "PRIORITY:12"): b"valid-calendar-data",
        todo("l", summary="x" * 300): b"valid-calendar-object-resource",
    }
    for text, condition in cases.items():
        response = await dav.put(f"{collection}bad.ics", text)
        assert response.status_code == 403, (text, response.text)
        assert condition in response.content
    assert (
        await dav.put(f"{collection}j.ics", todo(), **{"Content-Type": "application/json"})
    ).status_code == 403
    assert (await client.get("/tasks", headers=alice.headers)).json()["items"] == []


async def test_another_users_resources_are_403(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    collection = await Dav(client, alice).default_collection()
    response = await Dav(client, bob).request("GET", f"{collection}x.ics")
    assert_problem(response, 403)
    response = await Dav(client, bob).put(f"{collection}x.ics", todo())
    assert_problem(response, 403)


async def test_a_date_only_due_stays_date_only_after_a_rest_edit(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (
        await dav.put(f"{collection}d.ics", todo("d", "DUE;VALUE=DATE:20261201"))
    ).status_code == 201
    task = (await client.get("/tasks", headers=alice.headers)).json()["items"][0]
    await client.patch(
        f"/tasks/{task['id']}", json={"due_at": "2026-12-05T00:00:00Z"}, headers=alice.headers
    )
    got = await dav.request("GET", f"{collection}d.ics")
    assert "DUE;VALUE=DATE:20261205" in got.text
    await client.patch(
        f"/tasks/{task['id']}", json={"due_at": None, "tags": ["x"]}, headers=alice.headers
    )
    got = await dav.request("GET", f"{collection}d.ics")
    assert "DUE" not in got.text
    assert "CATEGORIES:x" in got.text


async def test_completing_over_caldav_completes_the_task(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.put(f"{collection}t.ics", todo("t"))).status_code == 201
    done = todo("t", "STATUS:COMPLETED", "COMPLETED:20261201T100000Z")
    assert (await dav.put(f"{collection}t.ics", done)).status_code == 204
    task = (await client.get("/tasks", headers=alice.headers)).json()["items"][0]
    assert task["completed"] is True
    assert task["completed_at"] is not None
    await client.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    got = await dav.request("GET", f"{collection}t.ics")
    assert "STATUS:NEEDS-ACTION" in got.text
    assert "COMPLETED:" not in got.text


async def test_a_uid_is_one_resource_per_calendar(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.put(f"{collection}first.ics", todo("same-uid"))).status_code == 201
    second = await dav.put(f"{collection}second.ics", todo("same-uid"))
    assert second.status_code == 403
    assert b"no-uid-conflict" in second.content
    task = await create_task(alice, title="REST")
    third = await dav.put(f"{collection}third.ics", todo(task["id"]))
    assert third.status_code == 403
    assert len((await client.get("/tasks", headers=alice.headers)).json()["items"]) == 2
