"""`todo app-password create | list | rm`, run as installed against a real `todo-api serve`."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli_support import Person, Todo, person, todo, todo_server

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server

PASSWORD_FORMAT = r"[a-z2-7]{4}(?:-[a-z2-7]{4}){6}"


def api_passwords(person: Person) -> list[dict[str, object]]:
    response = person.api.get("/auth/app-passwords")
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def rows(output: str) -> list[list[str]]:
    """A table's rows (after its header and rule), split on runs of two or more spaces."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


def test_create_prints_what_to_type_into_a_calendar_app(person: Person) -> None:
    output = person.todo.ok("app-password", "create", "iPhone Reminders")
    assert person.todo.server is not None
    assert f"  Server:    {person.todo.server}/dav/\n" in output
    assert f"  User name: {person.email}\n" in output
    assert re.search(rf"^  Password:  {PASSWORD_FORMAT}$", output, re.MULTILINE)
    assert "not shown" in output
    (stored,) = api_passwords(person)
    assert stored["name"] == "iPhone Reminders"
    assert f"(id {str(stored['id'])[:8]})" in output


def test_create_with_json_prints_the_apis_answer(person: Person) -> None:
    made = json.loads(person.todo.ok("app-password", "create", "Thunderbird", "--json"))
    assert set(made) == {"id", "name", "username", "password", "created_at"}
    assert made["username"] == person.email
    assert re.fullmatch(PASSWORD_FORMAT, made["password"])
    assert [item["id"] for item in api_passwords(person)] == [made["id"]]


def test_a_name_the_service_refuses_is_reported_and_nothing_is_made(person: Person) -> None:
    result = person.todo("app-password", "create", "x" * 101)
    assert result.returncode == 1
    assert "name" in result.stderr
    assert "Traceback" not in result.stderr
    assert api_passwords(person) == []


def test_list_shows_names_and_when_each_was_last_used(person: Person) -> None:
    assert person.todo("app-password", "list").stdout == ""
    person.todo.ok("app-password", "create", "Phone")
    person.todo.ok("app-password", "create", "Laptop")
    output = person.todo.ok("app-password", "list")
    assert output.splitlines()[0].split() == ["ID", "NAME", "CREATED", "LAST", "USED"]
    listed = rows(output)
    assert [(row[1], row[3]) for row in listed] == [("Phone", "never"), ("Laptop", "never")]
    ids = [str(item["id"]) for item in api_passwords(person)]
    assert [row[0] for row in listed] == [item[:8] for item in ids]
    assert json.loads(person.todo.ok("app-password", "list", "--json")) == api_passwords(person)


def test_rm_revokes_by_a_prefix_of_the_id(person: Person) -> None:
    made = json.loads(person.todo.ok("app-password", "create", "Old phone", "--json"))
    kept = json.loads(person.todo.ok("app-password", "create", "New phone", "--json"))
    output = person.todo.ok("app-password", "rm", made["id"][:6])
    assert "Revoked app password 'Old phone'" in output
    assert [item["id"] for item in api_passwords(person)] == [kept["id"]]


def test_rm_of_an_unknown_or_too_short_id_changes_nothing(person: Person) -> None:
    person.todo.ok("app-password", "create", "Phone")
    unknown = person.todo("app-password", "rm", "zzzzzzzz")
    assert unknown.returncode == 1
    assert "no app password has an id starting with 'zzzzzzzz'" in unknown.stderr
    short = person.todo("app-password", "rm", "ab")
    assert short.returncode == 2
    assert len(api_passwords(person)) == 1


def test_debug_never_shows_the_new_password(person: Person) -> None:
    result = person.todo("--debug", "app-password", "create", "Phone", "--json")
    assert result.returncode == 0, result.stderr
    password = json.loads(result.stdout)["password"]
    assert password not in result.stderr
    assert "[redacted]" in result.stderr


@pytest.mark.parametrize("command", ["create", "list", "rm"])
def test_each_commands_help_has_its_purpose_options_and_an_example(
    person: Person, command: str
) -> None:
    text = person.todo.ok("app-password", command, "--help")
    assert text.startswith(f"Usage: todo app-password {command} ")
    assert "--json" in text
    assert "--server URL" in text
    assert f"    todo app-password {command}" in text
    assert "  app-password " in person.todo.ok("--help")


def test_without_a_login_nothing_is_sent(todo: Todo) -> None:
    result = todo("app-password", "create", "Phone")
    assert result.returncode == 1
    assert "not logged in" in result.stderr
