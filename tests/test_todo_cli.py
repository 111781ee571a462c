"""The `todo` command, run as installed, against a real `todo-api serve` on each backend:
accounts, every task command and option, --json against the API, short ids, exit statuses."""

from __future__ import annotations

import importlib.metadata
import json
import os
import stat
import subprocess
import time
import uuid
from pathlib import Path

import jwt
import pytest

from tests.cli_support import (
    PASSWORD,
    TODO,
    Person,
    Todo,
    new_email,
    person,
    todo,
    todo_server,
)
from tests.conftest import TEST_SECRET
from tests.servers import closed_port

__all__ = ["person", "todo", "todo_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.server

COMMANDS = ["register", "login", "logout", "whoami", "add", "list", "show", "done", "undo"]
COMMANDS += ["edit", "rm"]


def mint_token(sub: str, *, seconds: int = 600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + seconds}, TEST_SECRET)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("todo: ")
    return lines[0]


# The program


def test_version_is_the_installed_distributions() -> None:
    result = subprocess.run([TODO, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout == f"todo {importlib.metadata.version('todo-api-cli')}\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_has_its_purpose_options_and_an_example(
    todo: Todo, command: str
) -> None:
    text = todo.ok(command, "--help")
    assert text.startswith(f"Usage: todo {command} ")
    assert "Options:" in text
    assert "--json" in text
    assert "--server URL" in text
    assert "Examples:" in text
    assert f"    todo {command}" in text


def test_the_programs_help_lists_every_command_and_the_exit_statuses(todo: Todo) -> None:
    text = todo.ok("--help")
    for command in COMMANDS:
        assert f"  {command} " in text
    assert "Exit status:" in text
    assert "TODO_SERVER" in text


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["list", "--frobnicate"],
        ["add"],
        ["add", "x", "--due", "someday"],
        ["add", "x", "-p", "urgent"],
        ["list", "--sort", "colour"],
        ["list", "--limit", "0"],
        ["list", "--open", "--done"],
        ["edit", "abcd1234"],
        ["edit", "abcd1234", "--due", "today", "--no-due"],
        ["login", "--email", "a@example.com", "--token-stdin"],
        ["login"],
        ["show", "abc"],
    ],
)
def test_a_usage_error_exits_2_without_a_traceback(todo: Todo, args: list[str]) -> None:
    result = todo(*args)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


# Accounts


def test_register_logs_in_and_keeps_the_token_in_an_owner_only_file(todo: Todo) -> None:
    email = new_email()
    out = todo.ok("register", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    assert email in out
    assert stat.S_IMODE(todo.config_folder.stat().st_mode) == 0o700
    files = list(todo.config_folder.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert email in todo.ok("whoami")


def test_the_token_file_is_owner_only_even_with_a_permissive_umask(todo: Todo) -> None:
    email = new_email()
    result = subprocess.run(
        [TODO, "register", "--email", email, "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=todo.env(),
        preexec_fn=lambda: os.umask(0),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(todo.config_folder.stat().st_mode) == 0o700
    for path in todo.config_folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_whoami_json_is_the_apis_account(person: Person) -> None:
    printed = json.loads(person.todo.ok("whoami", "--json"))
    assert printed == person.api.get("/auth/me").json()
    assert printed["email"] == person.email


def test_register_json_is_the_apis_new_account(todo: Todo) -> None:
    email = new_email()
    printed = json.loads(
        todo.ok("register", "--email", email, "--password-stdin", "--json", input=PASSWORD)
    )
    assert set(printed) == {"id", "email", "created_at"}
    assert printed["email"] == email


def test_registering_a_taken_email_is_the_services_refusal_in_one_line(person: Person) -> None:
    other = Todo(home=person.todo.home / "other", server=person.todo.server)
    other.home.mkdir()
    result = other("register", "--email", person.email, "--password-stdin", input=PASSWORD)
    assert result.returncode == 1
    assert "already" in one_line_error(result).lower()
    assert not other.config_folder.exists()


def test_a_too_short_password_is_refused_by_the_service(todo: Todo) -> None:
    result = todo("register", "--email", new_email(), "--password-stdin", input="short\n")
    assert result.returncode == 1
    assert "password" in one_line_error(result)


def test_login_with_the_password_on_stdin(person: Person, tmp_path: Path) -> None:
    elsewhere = Todo(home=tmp_path / "laptop", server=person.todo.server)
    elsewhere.home.mkdir()
    out = elsewhere.ok("login", "--email", person.email, "--password-stdin", input=PASSWORD)
    assert person.email in out
    assert person.email in elsewhere.ok("whoami")


def test_a_wrong_password_gives_the_services_detail(person: Person, tmp_path: Path) -> None:
    elsewhere = Todo(home=tmp_path / "laptop", server=person.todo.server)
    elsewhere.home.mkdir()
    result = elsewhere("login", "--email", person.email, "--password-stdin", input="wrong-one")
    assert result.returncode == 1
    assert one_line_error(result) == "todo: The email or password is wrong."


def test_login_without_a_terminal_asks_for_password_stdin(todo: Todo) -> None:
    result = todo("login", "--email", new_email(), input="")
    assert result.returncode == 2
    assert "--password-stdin" in one_line_error(result)


def test_login_with_a_token_from_elsewhere(todo: Todo) -> None:
    token = mint_token("outside-user-1")
    out = todo.ok("login", "--token-stdin", input=token + "\n")
    assert "outside-user-1" in out
    assert token not in out
    assert json.loads(todo.ok("whoami", "--json")) == {"id": "outside-user-1", "email": None}


def test_a_token_the_service_refuses_is_not_kept(todo: Todo) -> None:
    result = todo("login", "--token-stdin", input="not-a-token")
    assert result.returncode == 1
    assert "refused the token" in one_line_error(result)
    assert not todo.config_folder.exists()


def test_the_token_never_appears_in_output(todo: Todo) -> None:
    token = mint_token(f"quiet-{uuid.uuid4().hex}")
    outputs = [todo("login", "--token-stdin", "--json", input=token)]
    outputs += [todo("whoami"), todo("whoami", "--json"), todo("list", "--json")]
    outputs += [todo("add", "x", "--json"), todo("logout"), todo("list")]
    for result in outputs:
        assert token not in result.stdout + result.stderr


def test_an_expired_login_says_to_log_in_again(todo: Todo) -> None:
    todo.ok("login", "--token-stdin", input=mint_token("short-lived", seconds=2))
    time.sleep(3)
    result = todo("list")
    assert result.returncode == 1
    assert "run `todo login` again" in one_line_error(result)


def test_logout_forgets_the_token(person: Person) -> None:
    assert "Logged out" in person.todo.ok("logout")
    assert "not logged in" in one_line_error(person.todo("list"))
    for path in person.todo.config_folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Twice is not an error.
    assert person.todo("logout").returncode == 0


# Which server


def test_login_remembers_its_server(person: Person) -> None:
    person.create_task("remembered")
    saved_only = Todo(home=person.todo.home, server=None)
    assert "remembered" in saved_only.ok("list")


def test_the_server_option_wins_over_the_environment(person: Person) -> None:
    with closed_port() as port:
        dead = f"http://127.0.0.1:{port}"
        person.create_task("found")
        out = person.todo.ok("list", "--server", person.todo.server or "", TODO_SERVER=dead)
        assert "found" in out
        result = person.todo("list", "--server", dead)
        assert result.returncode == 1
        assert f"not logged in to {dead}" in one_line_error(result)


def test_the_environment_wins_over_the_saved_server(person: Person) -> None:
    with closed_port() as port:
        dead = f"http://127.0.0.1:{port}"
        result = person.todo("whoami", TODO_SERVER=dead)
        assert result.returncode == 1
        # Another server has no token of this login: none is sent there.
        assert f"not logged in to {dead}" in one_line_error(result)


def test_the_default_server_is_local_port_8000(tmp_path: Path) -> None:
    nobody = Todo(home=tmp_path, server=None)
    result = nobody("list")
    assert result.returncode == 1
    assert "http://127.0.0.1:8000" in one_line_error(result)


def test_a_server_that_is_not_an_http_url_is_a_usage_error(todo: Todo) -> None:
    result = todo("list", "--server", "ftp://example.com")
    assert result.returncode == 2
    assert "http://" in one_line_error(result)
