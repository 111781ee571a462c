"""What a completion costs: a plain task's toggle stays one statement, a recurring task's
is three (the statement that skips it, the look-up of its row, the compare-and-set), in
autocommit, with no transaction (tasks/recurring.py). Observed at the driver, as in
tests/test_round_trips.py, whose fixtures these are."""

from __future__ import annotations

import httpx
import pytest

from tests import test_round_trips
from tests.conftest import ApiUser, TaskFactory
from tests.test_round_trips import App

traced_settings = test_round_trips.traced_settings
traced_app = test_round_trips.traced_app

RECURRING = {"due_at": "2026-01-05T08:00:00Z", "recurrence": {"rule": "FREQ=DAILY"}}


@pytest.mark.parametrize(
    ("fields", "round_trips"),
    [({}, 1), ({"due_at": "2026-01-05T08:00:00Z"}, 1), (RECURRING, 3)],
    ids=["plain", "plain with a due date", "recurring"],
)
async def test_round_trips_of_a_toggle_that_completes(
    traced_app: tuple[httpx.AsyncClient, App],
    alice: ApiUser,
    fields: dict[str, object],
    round_trips: int,
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice, **fields)
    async with app.trace.observe() as observed:
        response = await http.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    assert response.status_code == 200, response.text
    if app.trace.backend == "postgresql":
        assert observed.transaction_control == []
        assert observed.round_trips == round_trips, observed.statements
        assert not observed.left_a_transaction_open
    assert (response.json()["completed"] is False) is ("recurrence" in fields)


@pytest.mark.parametrize("how", ["patch", "put"])
async def test_round_trips_of_a_patch_or_put_that_completes_a_recurring_task(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, how: str
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice, **RECURRING)
    url = f"/tasks/{task['id']}"
    body = {"completed": True, "title": "t", "due_at": task["due_at"]}
    async with app.trace.observe() as observed:
        if how == "patch":
            response = await http.patch(url, json={"completed": True}, headers=alice.headers)
        else:
            response = await http.put(url, json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["due_at"] == "2026-01-06T08:00:00Z"
    if app.trace.backend == "postgresql":
        assert observed.transaction_control == []
        assert observed.round_trips == 3, observed.statements


async def test_uncompleting_a_recurring_task_is_one_statement(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice, completed=True, **RECURRING)
    async with app.trace.observe() as observed:
        response = await http.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    assert response.json()["completed"] is False
    if app.trace.backend == "postgresql":
        assert observed.round_trips == 1, observed.statements
