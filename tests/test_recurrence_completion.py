"""Completing a recurring task moves it to its next occurrence: toggle, PATCH and PUT alike,
once per completion, in local time across daylight-saving changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem

BERLIN = ZoneInfo("Europe/Berlin")


def _weekly(**fields: Any) -> dict[str, Any]:
    return {"rule": "FREQ=WEEKLY;BYDAY=MO", "time_zone": "Europe/Berlin", "from": "due", **fields}


async def _toggle(client: httpx.AsyncClient, user: ApiUser, task: dict[str, Any]) -> Any:
    response = await client.patch(f"/tasks/{task['id']}/toggle", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _complete(
    client: httpx.AsyncClient, user: ApiUser, task: dict[str, Any], how: str
) -> dict[str, Any]:
    url = f"/tasks/{task['id']}"
    if how == "toggle":
        response = await client.patch(f"{url}/toggle", headers=user.headers)
    elif how == "patch":
        response = await client.patch(url, json={"completed": True}, headers=user.headers)
    else:
        body = {"title": task["title"], "due_at": task["due_at"], "completed": True}
        response = await client.put(url, json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == response.json()["etag"]
    advanced: dict[str, Any] = response.json()
    return advanced


@pytest.mark.parametrize("how", ["toggle", "patch", "put"])
async def test_completing_moves_due_at_to_the_next_occurrence_and_stays_open(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser, how: str
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    advanced = await _complete(client, alice, task, how)
    assert advanced["due_at"] == "2026-01-12T08:00:00Z"
    assert advanced["completed"] is False
    assert advanced["completed_at"] is None
    assert advanced["recurrence"] == task["recurrence"]
    assert advanced["etag"] != task["etag"]
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fetched == advanced


async def test_a_patch_that_completes_applies_its_other_fields_too(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    body = {"completed": True, "title": "renamed", "tags": ["weekly"]}
    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "renamed"
    assert response.json()["tags"] == ["weekly"]
    assert response.json()["due_at"] == "2026-01-12T08:00:00Z"


async def test_a_patch_that_gives_a_recurrence_and_completes_advances_by_the_new_rule(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T08:00:00Z")
    body = {"completed": True, "recurrence": {"rule": "FREQ=DAILY"}}
    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["due_at"] == "2026-01-06T08:00:00Z"
    assert response.json()["completed"] is False


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        # The last Sunday of March: Monday 09:00 is 08:00 UTC before, 07:00 UTC after.
        ("2026-03-23T09:00:00+01:00", ["2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"]),
        # The last Sunday of October: 07:00 UTC before, 08:00 UTC after.
        ("2026-10-19T09:00:00+02:00", ["2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"]),
    ],
    ids=["march", "october"],
)
async def test_local_time_is_kept_across_daylight_saving_changes(
    client: httpx.AsyncClient,
    create_task: TaskFactory,
    alice: ApiUser,
    due: str,
    expected: list[str],
) -> None:
    task = await create_task(alice, due_at=due, recurrence=_weekly())
    for due_at in expected:
        task = await _toggle(client, alice, task)
        assert task["due_at"] == due_at
        local = datetime.fromisoformat(due_at).astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=MONTHLY", ["2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31"]),
        ("FREQ=MONTHLY;BYMONTHDAY=31", ["2026-03-31", "2026-05-31", "2026-07-31"]),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", ["2026-02-28", "2026-03-31", "2026-04-30"]),
        ("FREQ=YEARLY", ["2027-01-31", "2028-01-31"]),
    ],
)
async def test_a_monthly_task_on_the_31st_follows_the_rule(
    client: httpx.AsyncClient,
    create_task: TaskFactory,
    alice: ApiUser,
    rule: str,
    expected: list[str],
) -> None:
    recurrence = {"rule": rule, "time_zone": "America/New_York"}
    task = await create_task(alice, due_at="2026-01-31T18:30:00-05:00", recurrence=recurrence)
    for day in expected:
        task = await _toggle(client, alice, task)
        local = datetime.fromisoformat(task["due_at"]).astimezone(ZoneInfo("America/New_York"))
        assert (local.date().isoformat(), local.hour, local.minute) == (day, 18, 30)


async def test_a_leap_day_task_waits_for_the_next_leap_year(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=YEARLY"}
    task = await create_task(alice, due_at="2028-02-29T12:00:00Z", recurrence=recurrence)
    assert (await _toggle(client, alice, task))["due_at"] == "2032-02-29T12:00:00Z"


async def test_count_goes_down_and_the_last_completion_completes(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY;Count=3;INTERVAL=2"}
    task = await create_task(alice, due_at="2026-01-05T08:00:00Z", recurrence=recurrence)
    task = await _toggle(client, alice, task)
    assert (task["due_at"], task["recurrence"]["rule"]) == (
        "2026-01-07T08:00:00Z",
        "FREQ=DAILY;Count=2;INTERVAL=2",
    )
    task = await _toggle(client, alice, task)
    assert (task["due_at"], task["recurrence"]["rule"]) == (
        "2026-01-09T08:00:00Z",
        "FREQ=DAILY;Count=1;INTERVAL=2",
    )
    task = await _toggle(client, alice, task)
    assert task["completed"] is True
    assert task["completed_at"] is not None
    assert task["due_at"] == "2026-01-09T08:00:00Z"
    assert task["recurrence"]["rule"] == "FREQ=DAILY;Count=1;INTERVAL=2"
    reopened = await _toggle(client, alice, task)
    assert (reopened["completed"], reopened["due_at"]) == (False, task["due_at"])


async def test_a_passed_until_completes_the_task(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY;UNTIL=20260106T080000Z"}
    task = await create_task(alice, due_at="2026-01-05T08:00:00Z", recurrence=recurrence)
    task = await _toggle(client, alice, task)
    assert (task["completed"], task["due_at"]) == (False, "2026-01-06T08:00:00Z")
    task = await _toggle(client, alice, task)
    assert task["completed"] is True
    assert task["recurrence"]["rule"] == "FREQ=DAILY;UNTIL=20260106T080000Z"


async def test_completing_a_completed_recurring_task_changes_no_date(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(
        alice, due_at="2026-01-05T08:00:00Z", recurrence={"rule": "FREQ=DAILY"}, completed=True
    )
    response = await client.patch(
        f"/tasks/{task['id']}", json={"completed": True}, headers=alice.headers
    )
    assert response.json()["due_at"] == task["due_at"]
    assert response.json()["completed_at"] == task["completed_at"]


async def test_from_completion_restarts_the_rule_on_the_day_of_completion(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY;INTERVAL=3", "time_zone": "Europe/Berlin"}
    recurrence["from"] = "completion"
    task = await create_task(alice, due_at="2025-06-02T07:15:00+02:00", recurrence=recurrence)
    advanced = await _toggle(client, alice, task)
    completed_at = datetime.fromisoformat(advanced["updated_at"]).astimezone(BERLIN)
    first = datetime.combine(completed_at.date(), datetime.min.time().replace(hour=7, minute=15))
    first = first.replace(tzinfo=BERLIN)
    expected = first if first > completed_at else first + timedelta(days=3)
    due = datetime.fromisoformat(advanced["due_at"])
    assert due == expected.replace(hour=7, minute=15).astimezone(UTC)
    assert due > datetime.fromisoformat(advanced["updated_at"])
    assert advanced["completed"] is False


async def test_a_completion_under_if_match_advances_once(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    url = f"/tasks/{task['id']}/toggle"
    headers = {**alice.headers, "If-Match": task["etag"]}
    first = await client.patch(url, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["due_at"] == "2026-01-12T08:00:00Z"
    assert_problem(await client.patch(url, headers=headers), 412)
    patch = await client.patch(f"/tasks/{task['id']}", json={"completed": True}, headers=headers)
    assert_problem(patch, 412)
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fetched == first.json()


async def test_a_completion_under_an_idempotency_key_advances_once(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    headers = {**alice.headers, "Idempotency-Key": f"complete-{task['id']}"}
    url = f"/tasks/{task['id']}/toggle"
    first = await client.patch(url, headers=headers)
    again = await client.patch(url, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fetched["due_at"] == "2026-01-12T08:00:00Z"
    patch_headers = {**alice.headers, "Idempotency-Key": f"patch-{task['id']}"}
    for _ in range(2):
        response = await client.patch(
            f"/tasks/{task['id']}", json={"completed": True}, headers=patch_headers
        )
        assert response.json()["due_at"] == "2026-01-19T08:00:00Z"


@pytest.mark.parametrize("completions", [2, 6, 15])
async def test_concurrent_completions_each_advance_once(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser, completions: int
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    url = f"/tasks/{task['id']}/toggle"
    responses = await asyncio.gather(
        *(client.patch(url, headers=alice.headers) for _ in range(completions))
    )
    assert [response.status_code for response in responses] == [200] * completions, [
        response.text for response in responses if response.status_code != 200
    ]
    dues = sorted(response.json()["due_at"] for response in responses)
    start = datetime(2026, 1, 5, 9, tzinfo=BERLIN)
    weeks = [(start + timedelta(weeks=n)).astimezone(UTC) for n in range(1, completions + 1)]
    assert dues == [week.isoformat().replace("+00:00", "Z") for week in weeks]
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert fetched["due_at"] == dues[-1]
    assert fetched["completed"] is False


async def test_concurrent_completions_of_a_counted_task_never_overshoot(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY;COUNT=2"}
    task = await create_task(alice, due_at="2026-01-05T08:00:00Z", recurrence=recurrence)
    url = f"/tasks/{task['id']}/toggle"
    responses = await asyncio.gather(*(client.patch(url, headers=alice.headers) for _ in range(2)))
    assert [response.status_code for response in responses] == [200, 200]
    fetched = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
    assert (fetched["completed"], fetched["due_at"]) == (True, "2026-01-06T08:00:00Z")
    assert fetched["recurrence"]["rule"] == "FREQ=DAILY;COUNT=1"


async def test_put_that_completes_and_clears_the_recurrence_completes(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    body = {"title": "t", "due_at": task["due_at"], "completed": True, "recurrence": None}
    response = await client.put(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["completed"], response.json()["recurrence"]) == (True, None)
    assert response.json()["due_at"] == task["due_at"]


async def test_put_that_completes_with_a_new_rule_advances_by_it(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    body = {
        "title": "t",
        "due_at": task["due_at"],
        "completed": True,
        "recurrence": {"rule": "FREQ=MONTHLY", "time_zone": "Europe/Berlin"},
    }
    response = await client.put(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["completed"], response.json()["due_at"]) == (
        False,
        "2026-02-05T08:00:00Z",
    )


async def test_a_stale_if_match_on_a_recurring_tasks_write_is_412_and_changes_nothing(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    url = f"/tasks/{task['id']}"
    await client.patch(url, json={"title": "changed"}, headers=alice.headers)
    current = (await client.get(url, headers=alice.headers)).json()
    stale = {**alice.headers, "If-Match": task["etag"]}
    for body in ({"due_at": "2026-01-12T09:00:00Z"}, {"completed": True}, {"recurrence": None}):
        assert_problem(await client.patch(url, json=body, headers=stale), 412)
    assert_problem(await client.patch(f"{url}/toggle", headers=stale), 412)
    assert (await client.get(url, headers=alice.headers)).json() == current
    fresh = {**alice.headers, "If-Match": current["etag"]}
    moved = await client.patch(url, json={"completed": True}, headers=fresh)
    assert moved.json()["due_at"] == "2026-01-12T08:00:00Z"


async def test_completing_a_recurring_task_while_moving_it_to_another_list(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    made = await client.post("/lists", json={"name": "Weekly"}, headers=alice.headers)
    task = await create_task(alice, due_at="2026-01-05T09:00:00+01:00", recurrence=_weekly())
    body = {"completed": True, "list_id": made.json()["id"]}
    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["list_id"] == made.json()["id"]
    assert response.json()["due_at"] == "2026-01-12T08:00:00Z"
    unknown = {"completed": True, "list_id": "00000000-0000-4000-8000-000000000000"}
    response = await client.patch(f"/tasks/{task['id']}", json=unknown, headers=alice.headers)
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "list_id"]


async def test_from_completion_with_count_counts_down(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=WEEKLY;COUNT=2", "from": "completion"}
    task = await create_task(alice, due_at="2026-01-05T09:00:00Z", recurrence=recurrence)
    task = await _toggle(client, alice, task)
    assert task["recurrence"]["rule"] == "FREQ=WEEKLY;COUNT=1"
    assert datetime.fromisoformat(task["due_at"]) > datetime.fromisoformat(task["updated_at"])
    assert (await _toggle(client, alice, task))["completed"] is True


async def test_a_local_time_that_a_spring_change_skips_takes_the_offset_before_it(
    client: httpx.AsyncClient, create_task: TaskFactory, alice: ApiUser
) -> None:
    recurrence = {"rule": "FREQ=DAILY", "time_zone": "Europe/Berlin"}
    task = await create_task(alice, due_at="2026-03-28T02:30:00+01:00", recurrence=recurrence)
    # 02:30 does not exist on 29 March in Berlin: 02:30 at +01:00 is 03:30 summer time.
    task = await _toggle(client, alice, task)
    assert task["due_at"] == "2026-03-29T01:30:00Z"
    # The day after, 02:30 exists again, in summer time.
    task = await _toggle(client, alice, task)
    assert task["due_at"] == "2026-03-30T00:30:00Z"
