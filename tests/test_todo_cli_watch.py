"""`todo watch`: prints each change as it happens, and after a lost connection picks up where
it left off, with nothing missed or shown twice and never a traceback."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import Todo
from tests.conftest import bearer, make_token
from tests.event_streams import events_server_environment
from tests.servers import Server, running_server
from tests.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("watch")
    with running_server(folder, events_server_environment(database_url), "--no-migrate") as up:
        yield up


@pytest.fixture
def proxy(server: Server) -> Iterator[TcpProxy]:
    """The network between `todo watch` and the service, which the test cuts."""
    with tcp_proxy("127.0.0.1", server.port or 0) as running:
        yield running


class Lines:
    """A process's output lines, read as they come."""

    def __init__(self, stream: Any) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.everything: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.everything.append(line)
            self._lines.put(line.rstrip("\n"))

    def next(self, within: float = 10.0) -> str:
        line = self._lines.get(timeout=within)
        self.seen.append(line)
        return line


def stop(process: subprocess.Popen[str]) -> tuple[int, None]:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, None


def test_watch_prints_changes_and_resumes_after_a_lost_connection(
    server: Server, proxy: TcpProxy, tmp_path: Path
) -> None:
    token = make_token()
    headers = bearer(token)
    todo = Todo(home=tmp_path, server=f"http://127.0.0.1:{proxy.port}")
    todo.save_token(todo.server or "", token)
    watching = todo.start("watch", "--json")
    output, notes = Lines(watching.stdout), Lines(watching.stderr)
    assert notes.next(within=15) == "todo: watching for changes (Ctrl-C to stop)"
    try:
        with httpx.Client(base_url=server.url, timeout=10) as api:

            def add(title: str) -> dict[str, Any]:
                made = api.post("/tasks", json={"title": title}, headers=headers)
                assert made.status_code == 201
                body: dict[str, Any] = made.json()
                return body

            # The stream is open once a change made after `watch` started shows.
            first = add("first")
            shown = json.loads(output.next(within=15))
            assert shown == {"event": "task", "id": shown["id"], "data": first}

            proxy.cut()
            missed = [add("while cut 1"), add("while cut 2")]
            proxy.restore()
            assert notes.next(within=15).startswith("todo: the connection")
            assert notes.next(within=15) == "todo: reconnected"
            resumed = [json.loads(output.next(within=15)) for _ in missed]
            assert [line["data"] for line in resumed] == missed

            api.delete(f"/tasks/{first['id']}", headers=headers)
            gone = json.loads(output.next())
            assert (gone["event"], gone["data"]) == ("task-deleted", {"id": first["id"]})
    finally:
        status, _ = stop(watching)
    assert status == 130
    assert not any("Traceback" in line for line in notes.everything)
    assert len(output.seen) == len(set(output.seen)) == 4


def test_watch_prints_a_line_a_change_for_people(server: Server, tmp_path: Path) -> None:
    token = make_token()
    todo = Todo(home=tmp_path, server=server.url)
    todo.save_token(server.url, token)
    watching = todo.start("watch")
    output, notes = Lines(watching.stdout), Lines(watching.stderr)
    notes.next(within=15)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as api:
            made = api.post("/lists", json={"name": "Garden"}, headers=bearer(token)).json()
            line = output.next(within=15)
    finally:
        status, _ = stop(watching)
    assert line.split() == ["list", made["id"][:8], "Garden"]
    assert status == 130


def test_watch_without_a_valid_login_says_so_and_exits(server: Server, tmp_path: Path) -> None:
    todo = Todo(home=tmp_path, server=server.url)
    result = todo("watch", timeout=30)
    assert result.returncode == 1
    assert "todo login" in result.stderr
    todo.save_token(server.url, "not-a-token")
    result = todo("watch", timeout=30)
    assert result.returncode == 1
    assert "todo login" in result.stderr
    assert "Traceback" not in result.stderr
