"""Running the installed `todo` command as a person would: in a subprocess, with its own config
folder, against a real `todo-api serve`; in a pseudo-terminal when the terminal matters; and
through intermediaries that lose or refuse a first answer."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.servers import Server, clean_environment, running_server

TODO = str(Path(sys.executable).parent / "todo")
PASSWORD = "correct horse battery staple"


@dataclass
class Todo:
    """The `todo` command with one person's config folder and server."""

    home: Path
    server: str | None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def config_folder(self) -> Path:
        return self.home / "config" / "todo"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TODO_", "XDG_"))}
        env.pop("NO_COLOR", None)
        env.pop("COLUMNS", None)
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "config"))
        if self.server:
            env["TODO_SERVER"] = self.server
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        # Without input, standard input is empty rather than the test runner's own, which may
        # be a terminal: what `todo` does then would depend on where the tests were started.
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(
            [TODO, *args],
            **stdin,
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.home,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None, **env: str) -> str:
        result = self(*args, input=input, **env)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def save_token(self, server: str, token: str) -> None:
        """As `todo login` would have, for a server that cannot log anyone in."""
        self.config_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.config_folder / "credentials.json"
        saved = json.loads(path.read_text()) if path.exists() else {"tokens": {}}
        saved["tokens"][server] = token
        path.write_text(json.dumps(saved))
        path.chmod(0o600)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [TODO, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**env),
            cwd=self.home,
        )

    def in_terminal(
        self, *args: str, columns: int = 80, typed: tuple[str, ...] = (), **env: str
    ) -> tuple[int, str]:
        """Exit status and what a terminal of `columns` columns would show; each line of
        `typed` is typed at the next prompt (output ending in ": ")."""
        controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        process = subprocess.Popen(
            [TODO, *args],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=self.env(TERM="xterm-256color", **env),
            cwd=self.home,
            close_fds=True,
        )
        os.close(terminal)
        output = bytearray()
        to_type = list(typed)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the terminal's other end closed
                    break
                if not chunk:
                    break
                output += chunk
                if to_type and output.endswith(b": "):
                    os.write(controller, to_type.pop(0).encode() + b"\n")
            elif process.poll() is not None:
                break
        os.close(controller)
        status = process.wait(timeout=10)
        return status, output.decode().replace("\r\n", "\n")


@dataclass
class Person:
    email: str
    todo: Todo
    api: httpx.Client  # the same account, straight to the API

    def log_in_at(self, server: str) -> None:
        """Keep this login's token for another URL too (an intermediary in front of the
        service), without a request through it."""
        self.todo.save_token(server, self.api.headers["Authorization"].removeprefix("Bearer "))

    def create_task(self, title: str, **fields: Any) -> dict[str, Any]:
        response = self.api.post("/tasks", json={"title": title, **fields})
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    def task(self, task_id: str) -> httpx.Response:
        return self.api.get(f"/tasks/{task_id}")

    def all_tasks(self, **params: Any) -> list[dict[str, Any]]:
        response = self.api.get("/tasks", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def new_email() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}@example.com"


def api_client(server: str, email: str, password: str = PASSWORD) -> httpx.Client:
    token = httpx.post(
        f"{server}/auth/token", data={"username": email, "password": password}, timeout=30
    )
    assert token.status_code == 200, token.text
    return httpx.Client(
        base_url=server,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )


class FirstAnswerLost:
    """An HTTP/1.1 intermediary in front of the service: the first `lose` requests reach the
    service, which does the work, but their answer never comes back (the connection is
    dropped once the service has answered); later requests pass untouched. It records every
    request, so a test can see retries and their headers."""

    def __init__(
        self,
        target_port: int,
        *,
        lose: int = 1,
        refuse_with: bytes | None = None,
        before_forwarding: Callable[[bytes], None] | None = None,
    ):
        self.target_port = target_port
        # Called with each request before it goes on: lets a test change the service's state
        # at exactly that moment.
        self.before_forwarding = before_forwarding
        self.to_lose = lose
        # With refuse_with, the first `lose` requests are answered with these bytes by
        # the intermediary itself and never reach the service (a 503 from a front end).
        self.refuse_with = refuse_with
        self.requests: list[bytes] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def close(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # Keep-alive: one client connection may carry several requests in turn.
            while (request := await _read_http_message(reader)) is not None:
                self.requests.append(request)
                losing = self.to_lose > 0
                self.to_lose -= 1
                if losing and self.refuse_with is not None:
                    writer.write(self.refuse_with)
                    await writer.drain()
                    writer.close()  # after what was written has gone, unlike abort()
                    await writer.wait_closed()
                    return
                if self.before_forwarding is not None:
                    await asyncio.to_thread(self.before_forwarding, request)
                answer = await self._forward(request)
                if losing or answer is None:
                    return  # the answer is lost: the connection is dropped below
                writer.write(answer)
                await writer.drain()
        except OSError:
            pass
        finally:
            with suppress(OSError):
                writer.transport.abort()

    async def _forward(self, request: bytes) -> bytes | None:
        service_reader, service_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        try:
            service_writer.write(request)
            await service_writer.drain()
            return await _read_http_message(service_reader)
        finally:
            service_writer.close()


async def _read_http_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (or none)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


def header_values(requests: list[bytes], name: str) -> list[str]:
    values = []
    for request in requests:
        for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                values.append(value.strip().decode())
    return values


@contextmanager
def first_answer_lost(
    target_port: int,
    *,
    lose: int = 1,
    refuse_with: bytes | None = None,
    before_forwarding: Callable[[bytes], None] | None = None,
) -> Iterator[FirstAnswerLost]:
    intermediary = FirstAnswerLost(
        target_port, lose=lose, refuse_with=refuse_with, before_forwarding=before_forwarding
    )
    intermediary.start()
    try:
        yield intermediary
    finally:
        intermediary.close()


class OddServer:
    """An HTTP peer that answers every request with the same raw bytes (or silence), to see
    what `todo` makes of a service that misbehaves."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OddServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        for task in asyncio.all_tasks():
            if task is not current:
                task.cancel()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            await _read_http_message(reader)
            if self.answer is None:
                await asyncio.sleep(3600)  # silence: never answers
            writer.write(self.answer)
            await writer.drain()
            writer.transport.abort()


# Fixtures, imported by the modules that test the command.

SERVER_SETTINGS = {
    "JWT_SECRET": TEST_SECRET,
    "ENVIRONMENT": "development",
    "LOG_FORMAT": "json",
    "RATE_LIMIT_AUTH": "1000000/minute",
    "RATE_LIMIT_TASKS": "1000000/minute",
    "RATE_LIMIT_LOGIN_FAILURES": "1000000/minute",
    # Tokens that expire in a second are expired a second later.
    "JWT_LEEWAY_SECONDS": "0",
}


@pytest.fixture(scope="module")
def todo_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("todo-server")
    env = clean_environment(DATABASE_URL=database_url, **SERVER_SETTINGS)
    with running_server(folder, env) as server:
        yield server


@pytest.fixture
def todo(todo_server: Server, tmp_path: Path) -> Todo:
    """The command for a new person who has not logged in yet."""
    return Todo(home=tmp_path, server=todo_server.url)


@pytest.fixture
def person(todo: Todo) -> Iterator[Person]:
    """A new person registered and logged in with `todo register`."""
    email = new_email()
    todo.ok("register", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    assert todo.server is not None
    with api_client(todo.server, email) as api:
        yield Person(email=email, todo=todo, api=api)
