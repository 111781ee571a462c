"""`todo lists` and `--list NAME`, run as installed against a real `todo-api serve`."""

from __future__ import annotations

import json

import pytest

from tests.cli_support import Person, Todo, person, todo, todo_server

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server


def rows(output: str) -> list[list[str]]:
    """A table's rows (after its header and rule), split on runs of two or more spaces."""
    import re

    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


def api_lists(person: Person) -> list[dict[str, object]]:
    response = person.api.get("/lists")
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_a_new_person_has_the_default_list_with_no_tasks(person: Person) -> None:
    output = person.todo.ok("lists")
    assert output.splitlines()[0].split() == ["LIST", "OPEN", "TASKS"]
    assert rows(output) == [["*", "Tasks", "0", "0"]]


def test_lists_show_their_open_and_total_counts_default_first(person: Person) -> None:
    person.todo.ok("lists", "add", "Groceries")
    person.todo.ok("lists", "add", "Work")
    person.todo.ok("add", "Oat milk", "--list", "groceries")
    person.todo.ok("add", "Bread", "--list", "GROCERIES")
    done = json.loads(person.todo.ok("add", "Eggs", "--list", "Groceries", "--json"))
    person.todo.ok("done", done["id"])
    person.todo.ok("add", "Anything")
    assert rows(person.todo.ok("lists")) == [
        ["*", "Tasks", "1", "1"],
        ["Groceries", "2", "3"],
        ["Work", "0", "0"],
    ]
    assert json.loads(person.todo.ok("lists", "--json")) == api_lists(person)


def test_add_with_a_list_puts_the_task_there(person: Person) -> None:
    made = json.loads(person.todo.ok("lists", "add", "Home", "--json"))
    task = json.loads(person.todo.ok("add", "Fix the tap", "--list", " home ", "--json"))
    assert task["list_id"] == made["id"]
    default = api_lists(person)[0]
    plain = json.loads(person.todo.ok("add", "Anywhere", "--json"))
    assert plain["list_id"] == default["id"]


def test_list_with_a_list_shows_only_its_tasks_and_no_list_column(person: Person) -> None:
    person.todo.ok("lists", "add", "Home")
    person.todo.ok("add", "Fix the tap", "--list", "home")
    person.todo.ok("add", "Call the bank")
    output = person.todo.ok("list", "--list", "HOME")
    assert "LIST" not in output.splitlines()[0]
    assert "Fix the tap" in output
    assert "Call the bank" not in output
    listed = json.loads(person.todo.ok("list", "--list", "home", "--json"))
    assert [task["title"] for task in listed] == ["Fix the tap"]


def test_list_shows_the_list_column_when_tasks_of_several_lists_show(person: Person) -> None:
    person.todo.ok("add", "Call the bank")
    single = person.todo.ok("list")
    assert "LIST" not in single.splitlines()[0]
    person.todo.ok("lists", "add", "Home")
    person.todo.ok("add", "Fix the tap", "--list", "home")
    several = person.todo.ok("list")
    header = several.splitlines()[0].split()
    assert header.index("LIST") + 1 == header.index("TITLE")
    by_title = {row[-1]: row for row in rows(several)}
    assert "Home" in by_title["Fix the tap"]
    assert "Tasks" in by_title["Call the bank"]


def test_rename_a_list_the_default_one_too(person: Person) -> None:
    person.todo.ok("lists", "add", "Groceries")
    assert person.todo.ok("lists", "rename", "groceries", "Food shop").strip() == (
        "Renamed list Groceries to Food shop"
    )
    person.todo.ok("lists", "rename", "tasks", "Inbox")
    assert [item["name"] for item in api_lists(person)] == ["Inbox", "Food shop"]


def test_a_taken_name_is_refused_in_one_line(person: Person) -> None:
    person.todo.ok("lists", "add", "Work")
    taken = person.todo("lists", "add", "WORK")
    assert taken.returncode == 1
    assert taken.stdout == ""
    [line] = taken.stderr.splitlines()
    assert line.startswith("todo: ")
    assert "name" in line
    renamed = person.todo("lists", "rename", "tasks", "work")
    assert renamed.returncode == 1
    assert len(renamed.stderr.splitlines()) == 1


def test_an_unknown_list_name_is_an_error_naming_the_lists(person: Person) -> None:
    for args in (
        ("add", "x", "--list", "nope"),
        ("list", "--list", "nope"),
        ("lists", "rm", "nope", "--yes"),
    ):
        result = person.todo(*args)
        assert result.returncode == 1, args
        assert result.stderr.strip() == "todo: no list is named 'nope'; your lists: Tasks"
    assert person.all_tasks() == []


def test_rm_with_yes_deletes_the_list_and_its_tasks(person: Person) -> None:
    person.todo.ok("lists", "add", "Doomed")
    doomed = json.loads(person.todo.ok("add", "Gone soon", "--list", "doomed", "--json"))
    kept = json.loads(person.todo.ok("add", "Stays", "--json"))
    assert person.todo.ok("lists", "rm", "DOOMED", "--yes").strip() == "Deleted list Doomed"
    assert [item["name"] for item in api_lists(person)] == ["Tasks"]
    assert person.task(doomed["id"]).status_code == 404
    assert person.task(kept["id"]).status_code == 200


def test_rm_without_yes_needs_a_terminal(person: Person) -> None:
    person.todo.ok("lists", "add", "Work")
    result = person.todo("lists", "rm", "Work")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert [item["name"] for item in api_lists(person)] == ["Tasks", "Work"]


def test_rm_on_a_terminal_asks_naming_the_tasks_that_go_with_it(person: Person) -> None:
    person.todo.ok("lists", "add", "Work")
    person.todo.ok("add", "Report", "--list", "work")
    status, shown = person.todo.in_terminal("lists", "rm", "work", typed=("n",))
    assert status == 1
    assert "Delete list Work and its 1 task?" in shown
    assert [item["name"] for item in api_lists(person)] == ["Tasks", "Work"]
    status, shown = person.todo.in_terminal("lists", "rm", "work", typed=("y",))
    assert status == 0, shown
    assert "Deleted list Work" in shown
    assert [item["name"] for item in api_lists(person)] == ["Tasks"]


def test_the_default_list_cannot_be_removed(person: Person) -> None:
    result = person.todo("lists", "rm", "tasks", "--yes")
    assert result.returncode == 1
    assert "default list cannot be deleted" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "command", [("lists",), ("lists", "add"), ("lists", "rename"), ("lists", "rm")]
)
def test_each_lists_commands_help_has_an_example(todo: Todo, command: tuple[str, ...]) -> None:
    text = todo.ok(*command, "--help")
    assert text.startswith(f"Usage: todo {' '.join(command)} ")
    assert "--json" in text
    assert "Examples:" in text
    assert f"    todo {' '.join(command)}" in text
