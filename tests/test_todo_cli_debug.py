"""`todo --debug`: the HTTP exchange on standard error for a bug report, with the token and
the password nowhere in it."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.cli_support import (
    PASSWORD,
    Person,
    Todo,
    first_answer_lost,
    new_email,
    person,
    todo,
    todo_server,
)

__all__ = ["person", "todo", "todo_server"]

pytestmark = pytest.mark.server


def saved_token(todo: Todo) -> str:
    saved = json.loads((todo.config_folder / "credentials.json").read_text())
    token: str = saved["tokens"][todo.server]
    return token


def assert_never_shown(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr
    assert "Traceback" not in result.stderr


def test_register_shows_the_exchange_without_the_password_or_the_token(todo: Todo) -> None:
    email = new_email()
    result = todo("--debug", "register", "--email", email, "--password-stdin", input=PASSWORD)
    assert result.returncode == 0, result.stderr
    token = saved_token(todo)
    assert_never_shown(result, PASSWORD, token, token.split(".")[-1])
    log = result.stderr
    assert f"> POST {todo.server}/auth/register\n" in log
    assert f'{{"email": "{email}", "password": "[redacted]"}}' in log
    assert "< HTTP/1.1 201 Created\n" in log
    assert f"> POST {todo.server}/auth/token\n" in log
    assert "password=[redacted]" in log
    assert '"access_token": "[redacted]"' in log
    # Standard output is what it is without --debug.
    assert result.stdout.startswith(f"Registered {email}; logged in to ")


def test_a_command_shows_requests_and_responses_but_never_the_token(person: Person) -> None:
    person.create_task("Buy milk", tags=["home"])
    token = saved_token(person.todo)
    result = person.todo("--debug", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert_never_shown(result, token, token.split(".")[-1])
    log = result.stderr
    assert f"> GET {person.todo.server}/tasks?sort=-created_at&limit=50\n" in log
    assert "> authorization: Bearer [redacted]\n" in log
    assert "< HTTP/1.1 200 OK\n" in log
    assert "< content-type: application/json\n" in log
    assert '"title": "Buy milk"' in log
    assert [task["title"] for task in json.loads(result.stdout)] == ["Buy milk"]


def test_a_token_given_on_standard_input_is_never_shown(person: Person) -> None:
    token = saved_token(person.todo)
    person.todo.ok("logout")
    result = person.todo("--debug", "login", "--token-stdin", input=token)
    assert result.returncode == 0, result.stderr
    assert_never_shown(result, token, token.split(".")[-1])
    assert f"> GET {person.todo.server}/auth/me\n" in result.stderr


def test_a_refusal_shows_the_problem_document(person: Person) -> None:
    result = person.todo("--debug", "show", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 1
    assert "< HTTP/1.1 404 Not Found\n" in result.stderr
    assert "< content-type: application/problem+json\n" in result.stderr
    assert '"status": 404' in result.stderr
    assert result.stderr.splitlines()[-1].startswith("todo: ")


def test_a_retry_is_shown_with_its_pause(person: Person) -> None:
    port = urlsplit(person.todo.server).port
    assert port is not None
    with first_answer_lost(port) as network:
        person.log_in_at(network.url)
        result = person.todo("--debug", "whoami", TODO_SERVER=network.url)
    assert result.returncode == 0, result.stderr
    assert "* the connection to " in result.stderr
    assert ": attempt 2 in " in result.stderr
    assert result.stderr.count(f"> GET {network.url}/auth/me\n") == 2


def test_without_debug_nothing_of_the_exchange_is_printed(person: Person) -> None:
    person.create_task("Buy milk")
    result = person.todo("list")
    assert result.returncode == 0
    assert result.stderr == ""
