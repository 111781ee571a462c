"""Real `todo-api serve` processes for tests where restarts, signals or instances matter."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from todo_api.app import create_app
from todo_api.settings import Settings

# Settings a developer may have exported must not leak into a test's server.
_SETTING_PREFIXES = (
    "DATABASE_",
    "DB_",
    "JWT_",
    "RATE_LIMIT_",
    "REDIS_URL",
    "CORS_",
    "LOG_",
    "ENVIRONMENT",
    "MAX_BODY_BYTES",
    "AUTH_",
    "ACCESS_TOKEN_",
    "TRUSTED_",
    "PROMETHEUS_MULTIPROC_DIR",
    "IDEMPOTENCY_",
    "SYNC_",
    "SERVER_SECRET",
)


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening, and held until the
    block ends, so that no other process can start listening there meanwhile."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port: int = holder.getsockname()[1]
        yield port


def listening_port(pid: int) -> int | None:
    """The TCP port the process `pid` listens on, read from /proc (Linux), or None yet.

    Servers are started with `--port 0`: the system picks a free port as it binds, so no
    other process can take it between choosing and binding, as it could a port probed first.
    """
    sockets = set()
    with contextlib.suppress(OSError):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(descriptor)
                if target.startswith("socket:["):
                    sockets.add(target.removeprefix("socket:[").removesuffix("]"))
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            # Field 3 is the state (0A: LISTEN), field 9 the socket's inode.
            if fields[3] == "0A" and fields[9] in sockets:
                return int(fields[1].rsplit(":", 1)[1], 16)
    return None


def todo_api_command() -> list[str]:
    return [sys.executable, "-m", "todo_api.commands"]


def clean_environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
    env.update(settings)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "not listening yet: wait_until_healthy first"
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@contextmanager
def running_server(
    cwd: Path, env: dict[str, str], *args: str, startup_timeout: float = 30
) -> Iterator[Server]:
    server = start_server(cwd, env, *args)
    try:
        wait_until_healthy(server, startup_timeout)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


def start_server(cwd: Path, env: dict[str, str], *args: str) -> Server:
    """`todo-api serve` on a port the system picks, its output in a log file beside the
    test's data; `wait_until_healthy` learns the port."""
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed below, kept on disk)
        dir=cwd, prefix="server-", suffix=".log", delete=False
    )
    with log_file:
        process = subprocess.Popen(
            [*todo_api_command(), "serve", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Server(process=process, log_path=Path(log_file.name))


def wait_until_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        if server.port is None:
            server.port = listening_port(server.process.pid)
            if server.port is None:
                time.sleep(0.1)
                continue
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not become healthy:\n{server.log()}")


# Generous: on a busy machine, importing the app in every worker process takes a while.
SLOW_START_TIMEOUT = 120.0


@contextmanager
def running_servers(
    cwd: Path,
    env: dict[str, str],
    *args: str,
    count: int,
    startup_timeout: float = SLOW_START_TIMEOUT,
) -> Iterator[list[Server]]:
    """`count` instances with one configuration, on ports of their own, started together
    and stopped with SIGTERM (a multi-worker server killed outright leaves its workers)."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(start_server(cwd, env, *args))
        for server in servers:
            wait_until_healthy(server, startup_timeout)
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=10)


def run_cli(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*todo_api_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process app built now (so its log lines go to the stderr of this moment,
    which capsys may have replaced), and a client for it."""
    async with open_client(create_app(settings)) as http:
        yield http


@asynccontextmanager
async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for an in-process app started with its lifespan."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as http,
    ):
        yield http
