"""What `todo list` shows in a terminal of a fixed width: the layout, frozen so that a
regression shows, and colour only where it belongs."""

from __future__ import annotations

import pytest

from tests.cli_support import PASSWORD, Person, Todo, new_email, person, todo, todo_server

__all__ = ["person", "todo", "todo_server"]

pytestmark = pytest.mark.server

LONG_TITLE = "A very long title that goes on well past the width of a narrow terminal"


def test_the_table_at_60_columns_without_colour(person: Person) -> None:
    done = person.create_task(LONG_TITLE, completed=True)
    milk = person.create_task("Buy milk")
    status, screen = person.todo.in_terminal("list", columns=60, NO_COLOR="1")
    assert status == 0
    assert screen.splitlines() == [
        "ID         ✓   PRI   DUE   TITLE                        TAGS",
        "─" * 60,
        f"{milk['id'][:8]}                   Buy milk",
        f"{done['id'][:8]}   ✓               A very long title that go…",
    ]


def test_every_row_is_one_line_however_narrow_the_terminal(person: Person) -> None:
    for number in range(3):
        person.create_task(f"{LONG_TITLE} ({number})")
    for columns in (40, 80, 120):
        status, screen = person.todo.in_terminal("list", columns=columns, NO_COLOR="1")
        assert status == 0
        lines = screen.splitlines()
        assert len(lines) == 2 + 3
        assert all(len(line) <= columns for line in lines)


def test_colour_only_in_a_terminal_without_no_color(person: Person) -> None:
    person.create_task("done", completed=True)
    person.create_task(LONG_TITLE)
    _, coloured = person.todo.in_terminal("list", columns=80)
    assert "\x1b[" in coloured
    _, plain = person.todo.in_terminal("list", columns=80, NO_COLOR="1")
    assert "\x1b[" not in plain
    piped = person.todo.ok("list")
    assert "\x1b[" not in piped
    # Nothing is cut when the output is not a terminal.
    assert LONG_TITLE in piped


def test_the_table_with_priority_due_date_and_tags(person: Person) -> None:
    report = person.create_task(
        "Send the report",
        priority="high",
        due_at="2030-01-15T17:00:00Z",
        tags=["work", "q3"],
    )
    milk = person.create_task(
        "Buy milk", priority="low", due_at="2030-01-16T23:59:59Z", tags=["home"]
    )
    late = person.create_task(
        "Renew the passport", priority="medium", due_at="2020-05-01T12:00:00Z"
    )
    status, screen = person.todo.in_terminal(
        "list", "--sort", "due_at", columns=72, NO_COLOR="1", TZ="UTC"
    )
    assert status == 0
    assert screen.splitlines() == [
        "ID         ✓   PRI      DUE                TITLE                TAGS",
        "─" * 72,
        f"{late['id'][:8]}       medium   2020-05-01 12:00   Renew the passport",
        f"{report['id'][:8]}       high     2030-01-15 17:00   Send the report      work, q3",
        f"{milk['id'][:8]}       low      2030-01-16         Buy milk             home",
    ]


def test_the_password_is_asked_for_without_echo(todo: Todo) -> None:
    email = new_email()
    status, screen = todo.in_terminal("register", "--email", email, typed=(PASSWORD, PASSWORD))
    assert status == 0, screen
    assert screen.startswith("Password: \nRepeat for confirmation: \n")
    assert PASSWORD not in screen
    status, screen = todo.in_terminal("login", "--email", email, typed=(PASSWORD,))
    assert status == 0, screen
    assert screen.startswith("Password: \nLogged in to ")
    assert PASSWORD not in screen


def test_rm_asks_before_deleting_and_no_keeps_the_task(person: Person) -> None:
    task = person.create_task("Old idea")
    short = task["id"][:8]
    status, screen = person.todo.in_terminal("rm", task["id"][:6], typed=("n",), NO_COLOR="1")
    assert status == 1
    assert screen.splitlines() == [f"Delete {short}  Old idea? [y/N]: n", "todo: nothing deleted"]
    assert person.task(task["id"]).status_code == 200
    # Enter alone is no as well.
    status, _ = person.todo.in_terminal("rm", task["id"], typed=("",), NO_COLOR="1")
    assert status == 1
    assert person.task(task["id"]).status_code == 200


def test_rm_deletes_when_the_answer_is_yes(person: Person) -> None:
    task = person.create_task("Old idea")
    short = task["id"][:8]
    # Given by its full id, the task is still named by its title in the question.
    status, screen = person.todo.in_terminal("rm", task["id"], typed=("y",), NO_COLOR="1")
    assert status == 0
    assert screen.splitlines() == [
        f"Delete {short}  Old idea? [y/N]: y",
        f"Deleted {short}  Old idea",
    ]
    assert person.task(task["id"]).status_code == 404


def test_rm_yes_deletes_without_asking(person: Person) -> None:
    task = person.create_task("Old idea")
    status, screen = person.todo.in_terminal("rm", task["id"][:6], "--yes", NO_COLOR="1")
    assert status == 0
    assert screen == f"Deleted {task['id'][:8]}  Old idea\n"
    assert person.task(task["id"]).status_code == 404
