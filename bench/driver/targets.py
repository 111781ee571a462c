"""The targets: the tools a run needs, and starting and stopping the service and references."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import BENCH_DIR, BenchError
from .database import Database
from .options import target_kind, target_server
from .pinning import cpu_list, niced, set_autogroup_nice


def require_tools(args: argparse.Namespace) -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        raise BenchError(
            f"missing {', '.join(missing)}: install with "
            "`apt-get install -y wrk util-linux` (the load generator must be wrk)"
        )
    if any(target_server(t) == "granian" for t in args.targets) and not _has_granian():
        raise BenchError("@granian targets need Granian: pip install granian")
    if args.profile is not None and shutil.which("py-spy", path=venv_path()) is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")


def _has_granian() -> bool:
    found = subprocess.run(
        [sys.executable, "-c", "import granian"], capture_output=True, check=False
    )
    return found.returncode == 0


def venv_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def server_environment(db: Database, secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": secret,
            "DATABASE_URL": db.url,
            "LOG_LEVEL": "WARNING",
            # Rate limiting stays on but never triggers: the benchmark measures its cost.
            "RATE_LIMIT_TASKS": "1000000000/minute",
            "RATE_LIMIT_AUTH": "1000000000/minute",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def todo_api_command() -> str:
    found = shutil.which("todo-api", path=venv_path())
    if found is None:
        raise BenchError("todo-api is not installed: pip install --no-deps -e .")
    return found


def migrate(db: Database, secret: str, work_dir: Path) -> None:
    result = subprocess.run(
        [todo_api_command(), "migrate"],
        env=server_environment(db, secret),
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"todo-api migrate failed:\n{result.stdout}{result.stderr}")


REFERENCE_APPS = {"baseline": "baseline:app", "asyncpg": "reference_asyncpg:app"}


def server_command(
    name: str, port: int, args: argparse.Namespace, work_dir: Path
) -> tuple[list[str], dict[str, str]]:
    """The command that starts a target, and the environment it needs beyond the common one."""
    kind, server = target_kind(name), target_server(name)
    if server == "uvicorn" and kind in ("service", "candidate"):
        given = args.service_command if kind == "service" else args.candidate_command
        service = shlex.split(given) if given else [todo_api_command()]
        command = [*service, "serve", "--port", str(port), "--no-migrate"]
        return [*command, "--workers", str(args.workers)], {}
    if server == "uvicorn":
        app_dir = ["--app-dir", str(BENCH_DIR)]
        command = [sys.executable, "-m", "uvicorn", REFERENCE_APPS[kind], *app_dir]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
        # As the service runs uvicorn: no access log, no Server header, no proxy headers.
        command += ["--no-access-log", "--no-server-header", "--no-proxy-headers"]
        return [*command, "--log-level", "warning"], {}
    # Granian: its own command line, with the service's factory or a reference's app.
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    command += ["--no-ws", "--log-level", "warning", *shlex.split(args.granian_args)]
    extra: dict[str, str] = {}
    if kind in ("service", "candidate"):
        if kind == "candidate" or args.service_command:
            raise BenchError(f"{name}: only this venv's service can run on Granian")
        if args.workers > 1:
            # What `todo-api serve --workers N` does: one metrics folder for all workers.
            metrics = work_dir / f"metrics-{name.replace('@', '-')}"
            metrics.mkdir(exist_ok=True)
            extra["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        return [*command, "--factory", "todo_api.app:create_app"], extra
    return [*command, "--working-dir", str(BENCH_DIR), REFERENCE_APPS[kind]], extra


def start_server(
    name: str, db: Database, secret: str, args: argparse.Namespace, work_dir: Path
) -> Server:
    port = free_port()
    command, extra_env = server_command(name, port, args, work_dir)
    command = ["taskset", "-c", cpu_list(args.server_cpu_set), *niced(args), *command]
    pool = str(args.pool_size)
    extra_env.update({"DB_POOL_SIZE": pool, "DB_MAX_OVERFLOW": "0", "BASELINE_POOL_SIZE": pool})
    log_path = work_dir / f"{name.replace('@', '-')}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env={**server_environment(db, secret), **extra_env},
            cwd=work_dir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if args.nice:
        set_autogroup_nice(process.pid, args.nice)
    server = Server(name, port, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.url}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return server
        time.sleep(0.2)
    stop_server(server)
    raise BenchError(f"{name} did not answer /health within 60 s:\n{server.log_tail()}")


def check_connection_budget(db: Database, args: argparse.Namespace) -> None:
    """Every target fills its pools under load: fail now, not with errors mid-run, when
    PostgreSQL cannot take them all next to what it already serves."""
    needed = len(args.targets) * args.workers * args.pool_size
    with db.connect() as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        ).fetchone()
    free = int(row[0]) if row else 0
    # A few for the driver's own connections (reset, vacuum, the monitor) during the run.
    if needed > free - 5:
        raise BenchError(
            f"{len(args.targets)} targets x {args.workers} worker(s) x {args.pool_size} "
            f"connections = {needed}, but PostgreSQL has {free} free now: run fewer targets, "
            "or lower --pool-size"
        )


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
