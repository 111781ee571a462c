"""Real `todo-api serve` processes for tests where restarts, signals or instances matter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def todo_api_command() -> list[str]:
    return [sys.executable, "-m", "todo_api.commands"]


def clean_environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
    env.update(settings)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

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
    """`todo-api serve` on a free port, its output in a log file beside the test's data."""
    port = free_port()
    log_path = cwd / f"server-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*todo_api_command(), "serve", "--port", str(port), *args],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Server(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)


def wait_until_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
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
