"""Measuring in process, for micro.py and layers.py: CPU per call (the best of rounds), a row
of micro.py's table, one request straight into an ASGI app, and a scratch database."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository's root, so that `tests.conftest` (settings and tokens) can be imported.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS = 15


def cpu_per_call(function: Callable[[], object], calls: int) -> float:
    """Best-of-rounds CPU time of one call, in microseconds."""
    for _ in range(max(1, calls // 10)):
        function()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            function()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6


async def async_cpu_per_call(function: Callable[[], Awaitable[object]], calls: int) -> float:
    for _ in range(max(1, calls // 10)):
        await function()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            await function()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6


@dataclass
class Figure:
    trick: str
    where: str
    kept: float
    plain: float

    def line(self) -> str:
        saving = self.plain - self.kept
        return (
            f"| {self.trick} | {self.kept:.2f} | {self.plain:.2f} | {saving:+.2f} | {self.where} |"
        )


AsgiCall = Callable[..., Awaitable[list[dict[str, Any]]]]


def asgi_caller(app: Any, token: str) -> AsgiCall:
    """`call(method, path, body=b"")`: one request straight into the ASGI `app` (no HTTP
    server), with the bearer `token`; returns the messages the app sent."""
    headers = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
    ]

    async def call(method: str, path: str, body: bytes = b"") -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 10000),
            "server": ("127.0.0.1", 8000),
            # Each request its own state, as a server gives it.
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    return call


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database on the server at `server_url` (its URL), dropped
    at the end: the benchmark's own `fresh_database`, migrated."""
    from driver.database import fresh_database
    from sqlalchemy.engine import make_url

    from todo_api import migrations

    admin = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with fresh_database(admin) as database:
        migrations.upgrade(make_url(database.url))
        yield database.url
