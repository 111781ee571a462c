"""The `todo` command when the network or the service misbehaves: safe retries with one
Idempotency-Key, a service that cannot be reached or answers nonsense, Ctrl-C; always an exit
status and a message, never a traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from tests.cli_support import (
    OddServer,
    Person,
    Todo,
    first_answer_lost,
    header_values,
    person,
    todo,
    todo_server,
)
from tests.servers import closed_port

__all__ = ["person", "todo", "todo_server"]

pytestmark = pytest.mark.server

_PROBLEM = b'{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"x"}'
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: " + str(len(_PROBLEM)).encode() + b"\r\n\r\n" + _PROBLEM
)


def port_of(url: str | None) -> int:
    port = urlsplit(url or "").port
    assert port is not None
    return port


def test_add_is_retried_with_the_same_key_when_the_answer_is_lost(person: Person) -> None:
    with first_answer_lost(port_of(person.todo.server)) as network:
        person.log_in_at(network.url)
        out = person.todo.ok("add", "Buy milk", "--json", TODO_SERVER=network.url)
    keys = header_values(network.requests, "Idempotency-Key")
    assert len(network.requests) == 2
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert json.loads(out)["title"] == "Buy milk"


def test_a_lost_answer_never_creates_the_task_twice(person: Person) -> None:
    with first_answer_lost(port_of(person.todo.server)) as network:
        person.log_in_at(network.url)
        person.todo.ok("add", "Buy milk", TODO_SERVER=network.url)
    assert [task["title"] for task in person.all_tasks()] == ["Buy milk"]


def test_done_is_retried_when_the_answer_is_lost(person: Person) -> None:
    task = person.create_task("Pay rent")
    with first_answer_lost(port_of(person.todo.server)) as network:
        person.log_in_at(network.url)
        person.todo.ok("done", task["id"], TODO_SERVER=network.url)
    assert len(header_values(network.requests, "Idempotency-Key")) == 2
    assert person.task(task["id"]).json()["completed"] is True


def test_a_503_is_retried_after_its_retry_after(person: Person) -> None:
    with first_answer_lost(port_of(person.todo.server), refuse_with=UNAVAILABLE) as network:
        person.log_in_at(network.url)
        started = time.monotonic()
        person.todo.ok("add", "Later", TODO_SERVER=network.url)
        waited = time.monotonic() - started
    assert waited >= 1.0
    assert len(network.requests) == 2
    assert [task["title"] for task in person.all_tasks()] == ["Later"]


def test_retries_are_bounded(person: Person) -> None:
    with first_answer_lost(port_of(person.todo.server), lose=100) as network:
        person.log_in_at(network.url)
        result = person.todo("add", "Never answered", TODO_SERVER=network.url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "connection" in result.stderr
    assert len(network.requests) == 4


def test_a_read_is_retried_when_the_answer_is_lost(person: Person) -> None:
    person.create_task("Buy milk")
    with first_answer_lost(port_of(person.todo.server)) as network:
        person.log_in_at(network.url)
        out = person.todo.ok("list", TODO_SERVER=network.url)
    assert "Buy milk" in out
    assert [request.split(b" ")[0] for request in network.requests] == [b"GET", b"GET"]
    # A read is safe to repeat as it is: no Idempotency-Key.
    assert header_values(network.requests, "Idempotency-Key") == []


def test_a_read_is_retried_after_a_503s_retry_after(person: Person) -> None:
    task = person.create_task("Buy milk")
    with first_answer_lost(port_of(person.todo.server), refuse_with=UNAVAILABLE) as network:
        person.log_in_at(network.url)
        started = time.monotonic()
        out = person.todo.ok("show", task["id"], "--json", TODO_SERVER=network.url)
        waited = time.monotonic() - started
    assert waited >= 1.0
    assert len(network.requests) == 2
    assert json.loads(out)["id"] == task["id"]


def test_read_retries_are_bounded(person: Person) -> None:
    with first_answer_lost(port_of(person.todo.server), lose=100) as network:
        person.log_in_at(network.url)
        result = person.todo("whoami", TODO_SERVER=network.url)
    assert result.returncode == 1
    assert result.stderr.startswith("todo: the connection to ")
    assert len(network.requests) == 4


@pytest.mark.parametrize(
    ("command", "method"),
    [(["rm", "--yes"], b"DELETE"), (["edit", "--title", "Buy oat milk"], b"PATCH")],
)
def test_a_write_without_an_idempotency_key_is_never_retried(
    person: Person, command: list[str], method: bytes
) -> None:
    task = person.create_task("Buy milk")
    with first_answer_lost(port_of(person.todo.server)) as network:
        person.log_in_at(network.url)
        result = person.todo(*command[:1], task["id"], *command[1:], TODO_SERVER=network.url)
    assert result.returncode == 1
    assert result.stderr.startswith("todo: the connection to ")
    # Sent once: the service did it, the answer was lost, and it is not done a second time.
    assert [request.split(b" ")[0] for request in network.requests] == [method]


def test_a_service_that_cannot_be_reached(todo: Todo) -> None:
    with closed_port() as port:
        dead = f"http://127.0.0.1:{port}"
        for args in (["login", "--email", "a@example.com", "--password-stdin"], ["register"]):
            if args[0] == "register":
                args = [*args, "--email", "a@example.com", "--password-stdin"]
            result = todo(*args, "--server", dead, input="password-long-enough")
            assert result.returncode == 1
            assert result.stderr == f"todo: cannot reach the service at {dead}: is it running?\n"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 11\r\n\r\n<h1>oh</h1>",
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        b"complete nonsense\r\n\r\n",
        b"",
    ],
)
def test_a_service_answering_nonsense_is_one_line_and_exit_1(todo: Todo, answer: bytes) -> None:
    with OddServer(answer) as odd:
        todo.save_token(odd.url, "a-token")
        for args in (
            ["whoami"],
            ["list"],
            ["add", "x"],
            ["done", "abcd"],
            ["login", "--token-stdin"],
        ):
            result = todo(*args, "--server", odd.url, input="a-token")
            assert result.returncode == 1, result
            assert "Traceback" not in result.stderr
            assert len(result.stderr.splitlines()) == 1
            assert result.stderr.startswith("todo: ")


def test_ctrl_c_exits_130_without_a_traceback(todo: Todo) -> None:
    with OddServer(None) as silent:
        todo.save_token(silent.url, "a-token")
        process = todo.start("list", "--server", silent.url)
        time.sleep(1.5)  # started, and waiting for an answer that never comes
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 130
    assert "Traceback" not in stderr


def test_editing_tags_never_overwrites_a_change_made_meanwhile(person: Person) -> None:
    task = person.create_task("Buy milk", tags=["home"])

    def someone_else_tags_it(request: bytes) -> None:
        if request.startswith(b"PATCH "):
            changed = person.api.patch(f"/tasks/{task['id']}", json={"tags": ["home", "urgent"]})
            assert changed.status_code == 200

    with first_answer_lost(
        port_of(person.todo.server), lose=0, before_forwarding=someone_else_tags_it
    ) as network:
        person.log_in_at(network.url)
        result = person.todo("edit", task["id"][:6], "-t", "shop", TODO_SERVER=network.url)
    assert result.returncode == 1
    assert "nothing was overwritten: run the command again" in result.stderr
    assert header_values(network.requests, "If-Match") == [task["etag"]]
    assert person.task(task["id"]).json()["tags"] == ["home", "urgent"]
