"""The `todo` task commands, run as installed, against a real `todo-api serve`: add, list,
show, done, undo, edit, rm, short ids, --json against the API, priority, due dates, tags."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

import pytest

from tests.cli_support import (
    PASSWORD,
    Person,
    api_client,
    new_email,
    person,
    todo,
    todo_server,
)
from tests.servers import Server
from tests.test_todo_cli import one_line_error

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server


# Adding and listing


def test_add_prints_the_short_id_and_title(person: Person) -> None:
    out = person.todo.ok("add", "Buy", "milk", "-d", "2 litres")
    (task,) = person.all_tasks()
    assert out == f"Added {task['id'][:8]}  Buy milk\n"
    assert task["description"] == "2 litres"
    assert task["completed"] is False


def test_add_json_is_the_apis_task(person: Person) -> None:
    printed = json.loads(person.todo.ok("add", "Call the bank", "--json"))
    assert printed == person.task(printed["id"]).json()


def test_list_shows_a_table_of_the_tasks(person: Person) -> None:
    first = person.create_task("first task")
    second = person.create_task("second task")
    lines = person.todo.ok("list").splitlines()
    assert lines[0].split() == ["ID", "✓", "PRI", "DUE", "TITLE", "TAGS"]
    assert lines[2].split() == [second["id"][:8], "second", "task"]
    assert lines[3].split() == [first["id"][:8], "first", "task"]


def test_list_json_is_the_apis_tasks(person: Person) -> None:
    for number in range(3):
        person.create_task(f"task {number}", description=f"about {number}")
    printed = json.loads(person.todo.ok("list", "--json"))
    assert printed == person.all_tasks(sort="-created_at")


def test_an_empty_list_says_so_on_stderr(person: Person) -> None:
    result = person.todo("list")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "No tasks.\n"
    assert person.todo.ok("list", "--json") == "[]\n"


def test_list_open_and_done(person: Person) -> None:
    person.create_task("open one")
    person.create_task("done one", completed=True)
    assert [t["title"] for t in json.loads(person.todo.ok("list", "--open", "--json"))] == [
        "open one"
    ]
    assert [t["title"] for t in json.loads(person.todo.ok("list", "--done", "--json"))] == [
        "done one"
    ]


def test_list_search(person: Person) -> None:
    person.create_task("Buy milk")
    person.create_task("Walk", description="with MILKY the dog")
    person.create_task("Read")
    titles = {t["title"] for t in json.loads(person.todo.ok("list", "-s", "milk", "--json"))}
    assert titles == {"Buy milk", "Walk"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("title", ["a", "b", "c"]), ("-title", ["c", "b", "a"]), ("created_at", ["b", "c", "a"])],
)
def test_list_sort(person: Person, sort: str, expected: list[str]) -> None:
    for title in ("b", "c", "a"):
        person.create_task(title)
    printed = json.loads(person.todo.ok("list", "--sort", sort, "--json"))
    assert [task["title"] for task in printed] == expected


def test_list_limit_shows_that_there_are_more(person: Person) -> None:
    for number in range(5):
        person.create_task(f"task {number}")
    result = person.todo("list", "--limit", "2")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2 + 2
    assert result.stderr == "Showing 2 of 5 tasks: --all for every one.\n"
    assert len(json.loads(person.todo.ok("list", "--limit", "3", "--json"))) == 3


def test_list_all_fetches_every_page(person: Person) -> None:
    for number in range(7):
        person.create_task(f"task {number}")
    printed = json.loads(person.todo.ok("list", "--all", "--limit", "2", "--json"))
    assert printed == person.all_tasks(sort="-created_at")
    assert len(printed) == 7


# One task


def test_show_by_prefix(person: Person) -> None:
    task = person.create_task("Water the plants", description="the ferns first")
    out = person.todo.ok("show", task["id"][:6])
    assert out.splitlines()[0] == "Water the plants"
    assert task["id"] in out
    assert "the ferns first" in out
    assert (
        json.loads(person.todo.ok("show", task["id"][:4], "--json"))
        == person.task(task["id"]).json()
    )


def test_done_and_undo_by_prefix(person: Person) -> None:
    task = person.create_task("Pay rent")
    assert person.todo.ok("done", task["id"][:5]) == f"Completed {task['id'][:8]}  Pay rent\n"
    assert person.task(task["id"]).json()["completed"] is True
    # Done twice is still done: an explicit value, not a toggle.
    person.todo.ok("done", task["id"])
    assert person.task(task["id"]).json()["completed"] is True
    assert person.todo.ok("undo", task["id"][:5]) == f"Reopened {task['id'][:8]}  Pay rent\n"
    assert person.task(task["id"]).json()["completed"] is False


def test_done_json_is_the_apis_task(person: Person) -> None:
    task = person.create_task("Pay rent")
    printed = json.loads(person.todo.ok("done", task["id"], "--json"))
    assert printed == person.task(task["id"]).json()
    assert printed["completed"] is True


def test_edit_title_and_description(person: Person) -> None:
    task = person.create_task("Buy milk", description="2 litres")
    out = person.todo.ok("edit", task["id"][:6], "--title", "Buy oat milk", "-d", "1 litre")
    assert out == f"Updated {task['id'][:8]}  Buy oat milk\n"
    now = person.task(task["id"]).json()
    assert (now["title"], now["description"]) == ("Buy oat milk", "1 litre")
    printed = json.loads(person.todo.ok("edit", task["id"], "-d", "", "--json"))
    assert printed == person.task(task["id"]).json()
    assert printed["description"] is None


def test_rm_by_prefix(person: Person) -> None:
    task = person.create_task("Old idea")
    deleted = person.todo.ok("rm", task["id"][:7], "--yes")
    assert deleted == f"Deleted {task['id'][:8]}  Old idea\n"
    assert person.task(task["id"]).status_code == 404
    other = person.create_task("Another")
    assert person.todo.ok("rm", other["id"], "-y", "--json") == ""
    assert person.task(other["id"]).status_code == 404


def test_rm_without_a_terminal_to_ask_on_needs_yes(person: Person) -> None:
    task = person.create_task("Keep me")
    for stdin in (None, "y\n"):  # nothing, or a pipe: neither is a person answering
        result = person.todo("rm", task["id"], input=stdin)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "no terminal to confirm the deletion on: add --yes" in result.stderr
    assert person.task(task["id"]).status_code == 200


# Short ids and refusals


def test_an_unknown_prefix_is_an_error(person: Person) -> None:
    person.create_task("something")
    result = person.todo("done", "ffffffff-nothing")
    assert result.returncode == 1
    assert "no task has an id starting with" in one_line_error(result)


def test_an_ambiguous_prefix_lists_the_candidates(person: Person) -> None:
    # Random ids share a 4-character prefix after a few hundred tasks (the birthday bound).
    seen: dict[str, dict[str, object]] = {}
    while True:
        task = person.create_task(f"task {len(seen)}")
        prefix = task["id"][:4]
        if prefix in seen:
            break
        seen[prefix] = task
    result = person.todo("done", prefix)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"todo: '{prefix}' matches 2 tasks; give more of the id:"
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(
        [task["id"], str(seen[prefix]["id"])]
    )
    assert person.all_tasks(completed="true") == []


def test_an_unknown_full_id_is_the_services_404(person: Person) -> None:
    result = person.todo("show", str(uuid.uuid4()))
    assert result.returncode == 1
    one_line_error(result)


def test_another_persons_task_is_the_services_403(person: Person, todo_server: Server) -> None:
    email = new_email()
    httpx_response = person.api.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert httpx_response.status_code == 201
    with api_client(todo_server.url, email) as stranger:
        theirs = stranger.post("/tasks", json={"title": "private"}).json()
        for command in (["show"], ["done"], ["rm", "--yes"]):
            result = person.todo(*command, theirs["id"])
            assert result.returncode == 1
            assert "private" not in result.stderr
            one_line_error(result)
        assert stranger.get(f"/tasks/{theirs['id']}").json()["completed"] is False


def test_a_validation_error_is_one_line(person: Person) -> None:
    result = person.todo("add", "x" * 300)
    assert result.returncode == 1
    line = one_line_error(result)
    assert "title" in line
    assert person.all_tasks() == []


# Priority, due dates and tags (the service's version 2 tasks)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_add_with_priority_due_date_and_tags(person: Person) -> None:
    printed = json.loads(
        person.todo.ok(
            "add",
            "Send the report",
            "-p",
            "HIGH",
            "--due",
            "2030-01-15",
            "-t",
            " Work ",
            "-t",
            "q3",
            "--json",
            TZ="Europe/Paris",
        )
    )
    task = person.task(printed["id"]).json()
    assert printed == task
    assert task["priority"] == "high"
    assert task["tags"] == ["work", "q3"]
    # A date is the end of that day in the person's time zone.
    assert instant(task["due_at"]) == instant("2030-01-15T23:59:59+01:00")


def test_add_due_tomorrow_is_the_end_of_tomorrow_local_time(person: Person) -> None:
    printed = json.loads(person.todo.ok("add", "x", "--due", "tomorrow", "--json", TZ="UTC"))
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert instant(printed["due_at"]) == datetime.combine(tomorrow, dt_time(23, 59, 59), UTC)


def test_list_filters_by_priority_and_tags(person: Person) -> None:
    person.create_task("a", priority="high", tags=["work", "urgent"])
    person.create_task("b", priority="low", tags=["work"])
    person.create_task("c", priority="medium", tags=["home"])

    def titles(*args: str) -> list[str]:
        return sorted(task["title"] for task in json.loads(person.todo.ok("list", *args, "--json")))

    assert titles("-p", "high") == ["a"]
    assert titles("-p", "high", "-p", "low") == ["a", "b"]
    assert titles("-t", "work") == ["a", "b"]
    assert titles("-t", "work", "-t", "urgent") == ["a"]
    assert titles("-t", "WORK", "-p", "low") == ["b"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("due_at", ["soon", "later", "never"]), ("-priority", ["later", "soon", "never"])],
)
def test_list_sort_by_due_date_and_priority(person: Person, sort: str, expected: list[str]) -> None:
    person.create_task("never", priority="none")
    person.create_task("later", priority="high", due_at="2030-02-01T09:00:00Z")
    person.create_task("soon", priority="low", due_at="2030-01-01T09:00:00Z")
    printed = json.loads(person.todo.ok("list", "--sort", sort, "--json"))
    assert [task["title"] for task in printed] == expected


def test_edit_priority_due_date_and_tags(person: Person) -> None:
    task = person.create_task("Buy milk", tags=["home", "errands"])
    person.todo.ok("edit", task["id"][:6], "-p", "low", "--due", "2030-01-15T09:30:00Z")
    now = person.task(task["id"]).json()
    assert now["priority"] == "low"
    assert instant(now["due_at"]) == instant("2030-01-15T09:30:00Z")
    printed = json.loads(
        person.todo.ok("edit", task["id"], "-t", "shop", "--untag", "HOME", "--no-due", "--json")
    )
    assert printed == person.task(task["id"]).json()
    assert printed["tags"] == ["errands", "shop"]
    assert printed["due_at"] is None


def test_show_has_priority_due_date_and_tags(person: Person) -> None:
    task = person.create_task(
        "Pay rent", priority="high", due_at="2030-01-15T09:30:00Z", tags=["home"]
    )
    out = person.todo.ok("show", task["id"][:6], TZ="UTC")
    assert "  priority  high\n" in out
    assert "  due       2030-01-15 09:30\n" in out
    assert "  tags      home\n" in out
