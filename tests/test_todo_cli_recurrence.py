"""`todo add --every RULE [--tz ZONE]`, `todo edit --every | --no-repeat`, and `todo done` on
a recurring task, run as installed against a real `todo-api serve`."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.cli_support import Person, person, todo, todo_server

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server

WEEKLY = "FREQ=WEEKLY;BYDAY=MO"
MONDAY_9_BERLIN = "2026-01-05T09:00:00+01:00"


def test_add_every_creates_a_recurring_task_in_the_given_zone(person: Person) -> None:
    output = person.todo.ok(
        "add",
        "Standup",
        "--due",
        MONDAY_9_BERLIN,
        "--every",
        WEEKLY,
        "--tz",
        "Europe/Berlin",
        "--json",
    )
    task = json.loads(output)
    assert task["recurrence"] == {"rule": WEEKLY, "time_zone": "Europe/Berlin", "from": "due"}
    assert task["due_at"] == "2026-01-05T08:00:00Z"
    assert person.task(task["id"]).json() == task


def test_add_every_without_tz_takes_this_computers_zone(person: Person) -> None:
    output = person.todo.ok(
        "add",
        "Water plants",
        "--due",
        MONDAY_9_BERLIN,
        "--every",
        "FREQ=DAILY",
        "--json",
        TZ="America/New_York",
    )
    assert json.loads(output)["recurrence"]["time_zone"] == "America/New_York"


def test_done_on_a_recurring_task_prints_the_next_due_date(person: Person) -> None:
    task = person.create_task(
        "Standup",
        due_at=MONDAY_9_BERLIN,
        recurrence={"rule": WEEKLY, "time_zone": "Europe/Berlin"},
    )
    output = person.todo.ok("done", task["id"][:8], TZ="Europe/Berlin")
    lines = output.splitlines()
    assert lines[0].startswith("Completed ")
    assert lines[1] == "Next due 2026-01-12 09:00"
    fetched = person.task(task["id"]).json()
    assert fetched["completed"] is False
    assert datetime.fromisoformat(fetched["due_at"]).isoformat() == "2026-01-12T08:00:00+00:00"
    # Retried or typed twice, `done` is still one completion per run: the next one moves on.
    assert person.todo.ok("done", task["id"], TZ="Europe/Berlin").splitlines()[1] == (
        "Next due 2026-01-19 09:00"
    )


def test_done_on_the_last_occurrence_completes_without_a_next_date(person: Person) -> None:
    task = person.create_task(
        "Once more", due_at=MONDAY_9_BERLIN, recurrence={"rule": "FREQ=DAILY;COUNT=1"}
    )
    output = person.todo.ok("done", task["id"])
    assert len(output.splitlines()) == 1
    assert person.task(task["id"]).json()["completed"] is True


def test_show_says_how_a_task_repeats(person: Person) -> None:
    recurrence = {"rule": "FREQ=DAILY;INTERVAL=3", "time_zone": "UTC", "from": "completion"}
    task = person.create_task("Water plants", due_at=MONDAY_9_BERLIN, recurrence=recurrence)
    output = person.todo.ok("show", task["id"])
    assert "  repeats   FREQ=DAILY;INTERVAL=3 (UTC) after completion" in output.splitlines()
    plain = person.create_task("Once")
    assert "  repeats   -" in person.todo.ok("show", plain["id"]).splitlines()


def test_edit_every_and_no_repeat(person: Person) -> None:
    task = person.create_task("Rent", due_at="2026-01-31T09:00:00Z")
    edited = json.loads(
        person.todo.ok("edit", task["id"], "--every", "FREQ=MONTHLY", "--tz", "UTC", "--json")
    )
    assert edited["recurrence"] == {"rule": "FREQ=MONTHLY", "time_zone": "UTC", "from": "due"}
    cleared = json.loads(person.todo.ok("edit", task["id"], "--no-repeat", "--json"))
    assert cleared["recurrence"] is None
    assert cleared["due_at"] == task["due_at"]


def test_a_rule_the_service_refuses_is_exit_1_with_its_detail(person: Person) -> None:
    result = person.todo("add", "Bad", "--due", MONDAY_9_BERLIN, "--every", "FREQ=HOURLY")
    assert result.returncode == 1
    assert "FREQ" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert person.all_tasks() == []


@pytest.mark.parametrize(
    "args",
    [
        ("add", "No date", "--every", "FREQ=DAILY"),
        ("add", "Zone alone", "--due", "tomorrow", "--tz", "UTC"),
        ("edit", "abcd", "--every", "FREQ=DAILY", "--no-repeat"),
        ("edit", "abcd", "--tz", "UTC"),
    ],
)
def test_options_that_do_not_go_together_are_usage_errors(
    person: Person, args: tuple[str, ...]
) -> None:
    result = person.todo(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
