"""`todo add --parent`, `todo move` and subtasks in `todo list`, run as installed against a
real `todo-api serve`."""

from __future__ import annotations

import json

import pytest

from tests.cli_support import Person, person, todo, todo_server
from tests.test_todo_cli_lists import rows

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server


def titles(output: str) -> list[str]:
    """The TITLE cells of `todo list` in a single list (ID, mark, priority, due, title, tags),
    with the indentation kept."""
    lines = [line for line in output.splitlines() if line.strip()]
    start = lines[0].index("TITLE")
    return [line[start:].rstrip() for line in lines[2:]]


def test_add_with_a_parent_makes_a_subtask_in_its_list(person: Person) -> None:
    person.todo.ok("lists", "add", "Home")
    parent = json.loads(person.todo.ok("add", "Fix the tap", "--list", "home", "--json"))
    child = json.loads(
        person.todo.ok("add", "Buy a washer", "--parent", parent["id"][:6], "--json")
    )
    assert (child["parent_id"], child["list_id"]) == (parent["id"], parent["list_id"])


def test_list_shows_subtasks_indented_under_their_parents_in_manual_order(
    person: Person,
) -> None:
    person.todo.ok("lists", "add", "Home")
    tap = json.loads(person.todo.ok("add", "Fix the tap", "--list", "home", "--json"))
    person.todo.ok("add", "Paint", "--list", "home")
    washer = json.loads(person.todo.ok("add", "Buy a washer", "--parent", tap["id"], "--json"))
    person.todo.ok("add", "Find the spanner", "--parent", tap["id"])
    person.todo.ok("add", "Which size?", "--parent", washer["id"])
    assert titles(person.todo.ok("list", "--list", "home")) == [
        "Fix the tap",
        "  Buy a washer",
        "    Which size?",
        "  Find the spanner",
        "Paint",
    ]


def test_move_reorders_within_a_list(person: Person) -> None:
    person.todo.ok("lists", "add", "Home")
    made = {
        title: json.loads(person.todo.ok("add", title, "--list", "home", "--json"))
        for title in ("One", "Two", "Three")
    }
    out = person.todo.ok("move", made["Three"]["id"][:8], "--first")
    assert "Moved" in out
    assert titles(person.todo.ok("list", "--list", "home")) == ["Three", "One", "Two"]
    person.todo.ok("move", made["Three"]["id"], "--after", made["One"]["id"][:8])
    assert titles(person.todo.ok("list", "--list", "home")) == ["One", "Three", "Two"]
    person.todo.ok("move", made["One"]["id"])
    assert titles(person.todo.ok("list", "--list", "home")) == ["Three", "Two", "One"]


def test_move_under_a_parent_to_the_top_and_to_another_list(person: Person) -> None:
    person.todo.ok("lists", "add", "Work")
    parent = person.create_task("Report")
    child = person.create_task("Figures")
    moved = json.loads(person.todo.ok("move", child["id"], "--parent", parent["id"], "--json"))
    assert moved["parent_id"] == parent["id"]
    top = json.loads(person.todo.ok("move", child["id"], "--top", "--json"))
    assert top["parent_id"] is None
    person.todo.ok("move", child["id"], "--parent", parent["id"])
    relisted = json.loads(person.todo.ok("move", parent["id"], "--list", "work", "--json"))
    work = [item for item in person.api.get("/lists").json()["items"] if item["name"] == "Work"]
    assert relisted["list_id"] == work[0]["id"]
    assert person.task(child["id"]).json()["list_id"] == work[0]["id"]
    assert titles(person.todo.ok("list", "--list", "work")) == ["Report", "  Figures"]


def test_move_refusals_are_one_line_and_exit_1(person: Person) -> None:
    parent = person.create_task("Parent")
    child = person.create_task("Child", parent_id=parent["id"])
    result = person.todo("move", parent["id"], "--parent", child["id"])
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "parent_id" in result.stderr
    assert person.task(parent["id"]).json()["parent_id"] is None


@pytest.mark.parametrize(
    "options",
    [("--after", "abcd", "--first"), ("--parent", "abcd", "--top")],
)
def test_move_options_that_exclude_each_other_are_a_usage_error(
    person: Person, options: tuple[str, ...]
) -> None:
    task = person.create_task("Stays")
    result = person.todo("move", task["id"], *options)
    assert result.returncode == 2
    assert "cannot be used together" in result.stderr
    assert person.task(task["id"]).json() == task


def test_list_sort_position_orders_every_list(person: Person) -> None:
    first = person.create_task("First")
    person.create_task("Second")
    person.todo.ok("move", first["id"])
    listed = rows(person.todo.ok("list", "--sort", "position"))
    assert [row[-1] for row in listed] == ["Second", "First"]
