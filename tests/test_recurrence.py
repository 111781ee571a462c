"""Recurring tasks: the `recurrence` field, its rules, and which writes take it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem

WEEKLY = {"rule": "FREQ=WEEKLY;BYDAY=MO", "time_zone": "Europe/Berlin", "from": "due"}
MONDAY_9_BERLIN = "2026-01-05T09:00:00+01:00"


async def _recurring(create_task: TaskFactory, user: ApiUser, **fields: Any) -> dict[str, Any]:
    return await create_task(user, due_at=MONDAY_9_BERLIN, recurrence=WEEKLY, **fields)


async def test_a_task_has_no_recurrence_by_default(
    create_task: TaskFactory, alice: ApiUser
) -> None:
    assert (await create_task(alice))["recurrence"] is None


async def test_create_stores_the_recurrence_as_sent(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    rule = "freq=Monthly;ByMonthDay=-1;INTERVAL=2"
    task = await create_task(
        alice, due_at="2026-01-31T08:00:00Z", recurrence={"rule": rule, "from": "completion"}
    )
    expected = {"rule": rule, "time_zone": "UTC", "from": "completion"}
    assert task["recurrence"] == expected
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fetched == task
    page = (await client.get("/tasks", headers=alice.headers)).json()
    assert page["items"][0]["recurrence"] == expected


async def test_the_defaults_are_utc_and_from_due(create_task: TaskFactory, alice: ApiUser) -> None:
    task = await create_task(alice, due_at=MONDAY_9_BERLIN, recurrence={"rule": "FREQ=DAILY"})
    assert task["recurrence"] == {"rule": "FREQ=DAILY", "time_zone": "UTC", "from": "due"}


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYDAY=20MO",
        "FREQ=DAILY;COUNT=3",
        "FREQ=DAILY;UNTIL=20270101",
        "FREQ=DAILY;UNTIL=20270101T120000Z",
        "FREQ=WEEKLY;UNTIL=20270101T120000",
    ],
)
async def test_every_accepted_part_is_accepted(
    create_task: TaskFactory, alice: ApiUser, rule: str
) -> None:
    task = await create_task(alice, due_at=MONDAY_9_BERLIN, recurrence={"rule": rule})
    assert task["recurrence"]["rule"] == rule


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "RRULE:FREQ=DAILY",
        "FREQ=HOURLY",
        "FREQ=SECONDLY",
        "INTERVAL=2",
        "FREQ=DAILY;BYHOUR=9",
        "FREQ=YEARLY;BYYEARDAY=100",
        "FREQ=YEARLY;BYWEEKNO=20",
        "FREQ=DAILY;FREQ=DAILY",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=x",
        "FREQ=DAILY;UNTIL=tomorrow",
        "FREQ=DAILY;UNTIL=20261399",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;BYDAY=2MO",
        "FREQ=MONTHLY;BYDAY=6MO",
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=WEEKLY;BYMONTHDAY=1",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=DAILY;BYSETPOS=1",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=400",
        "FREQ=DAILY;WKST=XX",
        "FREQ=DAILY;",
        "FREQ=DAILY;X-NAME=1",
        "FREQ=DAILY\n",
        "FREQ=DAILY;INTERVAL=" + "1" * 600,
    ],
)
async def test_a_rule_outside_the_contract_is_422_naming_the_rule(
    client: httpx.AsyncClient, alice: ApiUser, rule: str
) -> None:
    body = {"title": "t", "due_at": MONDAY_9_BERLIN, "recurrence": {"rule": rule}}
    response = await client.post("/tasks", json=body, headers=alice.headers)
    problem = assert_problem(response, 422)
    assert any(error["loc"][:3] == ["body", "recurrence", "rule"] for error in problem["errors"])
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;UNTIL=20260101",  # ends before the first occurrence
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # every 7 days from a Monday: never a Tuesday
    ],
)
async def test_a_rule_without_an_occurrence_at_or_after_due_at_is_422(
    client: httpx.AsyncClient, alice: ApiUser, rule: str
) -> None:
    body = {"title": "t", "due_at": MONDAY_9_BERLIN, "recurrence": {"rule": rule}}
    problem = assert_problem(await client.post("/tasks", json=body, headers=alice.headers), 422)
    assert problem["errors"][0]["loc"] == ["body", "recurrence", "rule"]


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        ({"rule": "FREQ=DAILY", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"rule": "FREQ=DAILY", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"rule": "FREQ=DAILY", "time_zone": ""}, "time_zone"),
        ({"rule": "FREQ=DAILY", "time_zone": "x" * 65}, "time_zone"),
        ({"rule": "FREQ=DAILY", "from": "start"}, "from"),
        ({"rule": "FREQ=DAILY", "every": 2}, "every"),
        ({"rule": "FREQ=DAILY", "from_": "due"}, "from_"),
        ({"rule": 5}, "rule"),
        ({"time_zone": "UTC"}, "rule"),
    ],
)
async def test_a_bad_recurrence_field_is_422_naming_it(
    client: httpx.AsyncClient, alice: ApiUser, recurrence: dict[str, Any], field: str
) -> None:
    body = {"title": "t", "due_at": MONDAY_9_BERLIN, "recurrence": recurrence}
    problem = assert_problem(await client.post("/tasks", json=body, headers=alice.headers), 422)
    assert any(error["loc"][:3] == ["body", "recurrence", field] for error in problem["errors"])


async def test_a_recurrence_without_due_at_is_422(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    body = {"title": "t", "recurrence": {"rule": "FREQ=DAILY"}}
    problem = assert_problem(await client.post("/tasks", json=body, headers=alice.headers), 422)
    assert problem["errors"][0]["loc"] == ["body", "recurrence"]
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0


async def test_patch_sets_changes_and_clears_a_recurrence(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at=MONDAY_9_BERLIN)
    url = f"/tasks/{task['id']}"
    response = await client.patch(url, json={"recurrence": WEEKLY}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["recurrence"] == WEEKLY
    assert response.json()["due_at"] == task["due_at"]
    daily = {"rule": "FREQ=DAILY", "time_zone": "UTC", "from": "completion"}
    response = await client.patch(url, json={"recurrence": daily}, headers=alice.headers)
    assert response.json()["recurrence"] == daily
    response = await client.patch(url, json={"recurrence": None}, headers=alice.headers)
    assert response.json()["recurrence"] is None
    assert response.json()["due_at"] == task["due_at"]


async def test_patch_of_a_recurrence_is_checked_against_the_stored_due_at(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at=MONDAY_9_BERLIN)
    url = f"/tasks/{task['id']}"
    ended = {"rule": "FREQ=DAILY;UNTIL=20251231"}
    problem = assert_problem(
        await client.patch(url, json={"recurrence": ended}, headers=alice.headers), 422
    )
    assert problem["errors"][0]["loc"] == ["body", "recurrence", "rule"]
    undated = await create_task(alice)
    response = await client.patch(
        f"/tasks/{undated['id']}", json={"recurrence": WEEKLY}, headers=alice.headers
    )
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "recurrence"]
    for unchanged in (task, undated):
        fetched = await client.get(f"/tasks/{unchanged['id']}", headers=alice.headers)
        assert fetched.json() == unchanged


async def test_clearing_the_due_at_of_a_recurring_task_is_422(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await _recurring(create_task, alice)
    url = f"/tasks/{task['id']}"
    response = await client.patch(url, json={"due_at": None}, headers=alice.headers)
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "due_at"]
    response = await client.put(url, json={"title": "no due date"}, headers=alice.headers)
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "due_at"]
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_moving_due_at_past_the_rules_end_is_422(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY;UNTIL=20260201"}
    task = await create_task(alice, due_at=MONDAY_9_BERLIN, recurrence=recurrence)
    url = f"/tasks/{task['id']}"
    response = await client.patch(
        url, json={"due_at": "2026-03-01T09:00:00Z"}, headers=alice.headers
    )
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "recurrence", "rule"]
    response = await client.patch(
        url, json={"due_at": "2026-01-20T09:00:00Z"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["recurrence"]["rule"] == "FREQ=DAILY;UNTIL=20260201"


async def test_put_without_recurrence_keeps_it_and_null_clears_it(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await _recurring(create_task, alice)
    url = f"/tasks/{task['id']}"
    body = {"title": "renamed", "due_at": task["due_at"]}
    response = await client.put(url, json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["recurrence"] == WEEKLY
    assert response.json()["title"] == "renamed"
    response = await client.put(url, json={**body, "recurrence": None}, headers=alice.headers)
    assert response.json()["recurrence"] is None
    daily = {"rule": "FREQ=DAILY", "time_zone": "UTC", "from": "due"}
    response = await client.put(url, json={**body, "recurrence": daily}, headers=alice.headers)
    assert response.json()["recurrence"] == daily


async def test_put_with_a_recurrence_and_no_due_at_is_422(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at=MONDAY_9_BERLIN)
    url = f"/tasks/{task['id']}"
    response = await client.put(
        url, json={"title": "t", "recurrence": WEEKLY}, headers=alice.headers
    )
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "recurrence"]
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_another_users_task_is_403_and_unknown_404_whatever_the_recurrence(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser, bob: ApiUser
) -> None:
    task = await _recurring(create_task, alice)
    url = f"/tasks/{task['id']}"
    assert_problem(await client.patch(url, json={"recurrence": WEEKLY}, headers=bob.headers), 403)
    assert_problem(await client.patch(f"{url}/toggle", headers=bob.headers), 403)
    assert_problem(await client.patch(url, json={"completed": True}, headers=bob.headers), 403)
    unknown = "/tasks/00000000-0000-4000-8000-000000000000"
    assert_problem(
        await client.patch(unknown, json={"recurrence": WEEKLY}, headers=bob.headers), 404
    )
    assert_problem(await client.patch(f"{unknown}/toggle", headers=bob.headers), 404)
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_sync_carries_the_recurrence(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    start = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    task = await _recurring(create_task, alice)
    changes = await client.get(f"/tasks/changes?since={start}", headers=alice.headers)
    assert changes.json()["tasks"] == [task]
    since = changes.json()["next_since"]
    await client.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    changes = await client.get(f"/tasks/changes?since={since}", headers=alice.headers)
    [advanced] = changes.json()["tasks"]
    assert advanced["recurrence"] == WEEKLY
    assert advanced["due_at"] == "2026-01-12T08:00:00Z"


async def test_erasure_removes_recurring_tasks(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    await _recurring(create_task, alice)
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0
    changes = (await client.get("/tasks/changes", headers=alice.headers)).json()
    assert changes["tasks"] == []


async def test_the_openapi_document_has_a_typed_recurrence_with_examples(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    recurrence = schemas["Recurrence"]
    assert set(recurrence["properties"]) == {"rule", "time_zone", "from"}
    assert recurrence["properties"]["from"]["enum"] == ["due", "completion"]
    assert recurrence["properties"]["rule"]["maxLength"] == 500
    assert recurrence["additionalProperties"] is False
    assert recurrence["examples"]
    for body in ("TaskCreate", "TaskReplace", "TaskPatch", "TaskRead"):
        field = schemas[body]["properties"]["recurrence"]
        assert {"$ref": "#/components/schemas/Recurrence"} in field["anyOf"], body


@pytest.mark.parametrize(
    ("due_at", "time_zone", "created"),
    [
        ("9999-12-31T23:59:59Z", "UTC", True),
        ("9999-12-31T23:59:59Z", "Asia/Tokyo", False),  # local time after year 9999
        ("0001-01-01T00:00:00Z", "America/New_York", False),  # local time before year 1
        ("0001-01-01T00:00:00Z", "UTC", True),
    ],
)
async def test_due_dates_at_the_ends_of_time_never_fail(
    client: httpx.AsyncClient, alice: ApiUser, due_at: str, time_zone: str, created: bool
) -> None:
    recurrence = {"rule": "FREQ=YEARLY", "time_zone": time_zone}
    body = {"title": "t", "due_at": due_at, "recurrence": recurrence}
    response = await client.post("/tasks", json=body, headers=alice.headers)
    if not created:
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "recurrence", "rule"]
        return
    assert response.status_code == 201, response.text
    toggled = await client.patch(f"/tasks/{response.json()['id']}/toggle", headers=alice.headers)
    assert toggled.status_code == 200, toggled.text
    if due_at.startswith("9999"):
        assert toggled.json()["completed"] is True  # no year after 9999
    else:
        assert toggled.json()["due_at"] == "0002-01-01T00:00:00Z"
