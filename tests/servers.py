"""Real `todo-api serve` processes for tests where restarts, signals or instances matter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def todo_api_command() -> list[str]:
    return [sys.executable, "-m", "todo_api.cli"]


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
    server = Server(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        wait_until_healthy(server, startup_timeout)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


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
