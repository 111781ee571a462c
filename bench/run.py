"""Benchmark the service against two bare references with wrk.

The references: bench/baseline.py (psycopg 3) and bench/reference_asyncpg.py (the same app on
asyncpg, one statement per request).

    .venv/bin/python bench/run.py            # full run, about 20 minutes
    .venv/bin/python bench/run.py --smoke    # CI: every workload, all three targets, ~2 s each

See bench/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
import psycopg
from baseline import default_list_id
from psycopg.conninfo import conninfo_to_dict

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LUA_SCRIPT = BENCH_DIR / "workload.lua"
WORKLOADS = ("list", "get", "create", "update", "mixed")
WRITE_WORKLOADS = {"create", "update", "mixed"}
BIG_WORKLOADS = ("list", "get")
# Kinds of target: the service, the two references, and another build of the service.
KINDS = ("service", "baseline", "asyncpg", "candidate")
REFERENCES = ("baseline", "asyncpg")
DEFAULT_TARGETS = ("service", "baseline", "asyncpg")
# A target runs on uvicorn unless its name says otherwise: `service@granian`.
SERVERS = ("uvicorn", "granian")
TOKEN_LIFETIME = dt.timedelta(hours=6)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """The benchmark cannot run or its measurement is not valid."""


# --------------------------------------------------------------------------- options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark todo-api against bare ASGI references with wrk.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CI mode: small seed, one short round, no 1M step; fails on any non-2xx or error",
    )
    parser.add_argument("--duration", type=int, help="seconds per measured run (10; smoke 2)")
    parser.add_argument(
        "--warmup", type=int, help="seconds of warm-up before each run (2; smoke 0)"
    )
    parser.add_argument("--rounds", type=int, help="rounds; the table shows medians (3; smoke 1)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--users", type=int, help="reading users (100; smoke 10)")
    parser.add_argument("--tasks-per-user", type=int, help="seeded tasks per user (50; smoke 10)")
    parser.add_argument(
        "--big-rows", type=int, default=1_000_000, help="rows in the big-table step"
    )
    parser.add_argument("--skip-big", action="store_true", help="skip the big-table step")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {','.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--targets",
        default=",".join(DEFAULT_TARGETS),
        help="comma-separated targets among service, baseline, asyncpg, candidate; NAME@granian "
        "runs that target on Granian instead of uvicorn (e.g. service,service@granian)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=20,
        help="database connections per worker of every target: the service's DB_POOL_SIZE "
        "(no overflow) and the references' pool (default 20, the service's default)",
    )
    parser.add_argument(
        "--service-command",
        help="command that starts the service instead of this venv's todo-api, e.g. another "
        "checkout's .venv/bin/todo-api; 'serve --port P --no-migrate --workers N' is appended",
    )
    parser.add_argument(
        "--candidate-command",
        help="another build of the service, measured as target 'candidate' in the same run "
        "(e.g. a checkout without one speed trick); started like --service-command",
    )
    parser.add_argument(
        "--granian-args",
        default="",
        help="extra options for the targets that run on Granian (e.g. '--runtime-mode st')",
    )
    parser.add_argument("--server-cpus", default="0", help="CPU list for the servers (taskset -c)")
    parser.add_argument(
        "--loadgen-cpus",
        help="CPU list for wrk and PostgreSQL (default: the CPUs the servers do not use, "
        "or all CPUs when the servers use them all)",
    )
    parser.add_argument(
        "--no-pin-postgres",
        action="store_true",
        help="leave PostgreSQL's CPU affinity alone (by default it joins the load generator's "
        "CPUs for the run and is restored afterwards)",
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL URL used to create and drop the benchmark database",
    )
    parser.add_argument("--results-md", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after measuring, record py-spy profiles of each target per workload into DIR "
        "(needs py-spy; profiled runs are not part of the table)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the servers, wrk and the benchmark database's PostgreSQL backends at this "
        "nice value (e.g. -10 on a machine that others share; needs root for < 0)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each run, wait up to this many seconds for other programs to leave the "
        "CPUs below 15%% of a core (20; smoke 0)",
    )
    parser.add_argument(
        "--check-targets",
        action="store_true",
        help="exit non-zero when the service misses a performance target",
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    defaults = {
        "duration": 2 if smoke else 10,
        "warmup": 0 if smoke else 2,
        "rounds": 1 if smoke else 3,
        "users": 10 if smoke else 100,
        "tasks_per_user": 10 if smoke else 50,
        "quiet_wait": 0 if smoke else 20,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if smoke:
        args.skip_big = True
    if args.users < 3 or args.tasks_per_user < 1:
        parser.error("the sanity check needs at least 3 users with 1 task each")
    args.workloads = _subset(args.workloads, WORKLOADS, parser)
    args.targets = _targets(args.targets, parser)
    if args.candidate_command and "candidate" not in args.targets:
        args.targets.append("candidate")
    if any(target_kind(t) == "candidate" for t in args.targets) and not args.candidate_command:
        parser.error("the candidate target needs --candidate-command")
    all_cpus = sorted(os.sched_getaffinity(0))
    args.server_cpu_set = _cpu_set(args.server_cpus, parser)
    if args.loadgen_cpus is None:
        rest = [cpu for cpu in all_cpus if cpu not in args.server_cpu_set]
        args.loadgen_cpu_set = rest or all_cpus
    else:
        args.loadgen_cpu_set = _cpu_set(args.loadgen_cpus, parser)
    return args


def _subset(text: str, allowed: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        parser.error(f"choose from {', '.join(allowed)}; got {text!r}")
    return [item for item in allowed if item in chosen]


def target_kind(target: str) -> str:
    return target.partition("@")[0]


def target_server(target: str) -> str:
    return target.partition("@")[2] or "uvicorn"


def _targets(text: str, parser: argparse.ArgumentParser) -> list[str]:
    chosen: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if target_kind(item) not in KINDS or target_server(item) not in SERVERS:
            parser.error(
                f"unknown target {item!r}: choose from {', '.join(KINDS)}, "
                f"optionally followed by @{' or @'.join(SERVERS)}"
            )
        if item.endswith("@uvicorn"):
            item = target_kind(item)
        if item not in chosen:
            chosen.append(item)
    if not chosen:
        parser.error("choose at least one target")
    return chosen


def _cpu_set(text: str, parser: argparse.ArgumentParser) -> list[int]:
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        parser.error(f"not a CPU list: {text!r} (e.g. 0 or 0,1 or 0-3)")
    available = os.sched_getaffinity(0)
    if not cpus <= available:
        parser.error(f"CPUs {sorted(cpus - available)} are not available here")
    return sorted(cpus)


def niced(args: argparse.Namespace) -> list[str]:
    return ["nice", "-n", str(args.nice)] if args.nice else []


def set_autogroup_nice(pid: int, value: int) -> int | None:
    """Set the nice value of the process's scheduler autogroup; returns the old one.

    With autogroups (the kernel's default), the nice value of a single process only counts
    within its session's group: groups share a CPU fairly whatever their members' nice
    values. Each server and wrk run in a session of their own, so this touches only them.
    """
    path = Path(f"/proc/{pid}/autogroup")
    try:
        previous = int(path.read_text().split("nice")[1])
        path.write_text(str(value))
    except (OSError, IndexError, ValueError):
        return None
    return previous


def cpu_list(cpus: list[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


# --------------------------------------------------------------------------- tools


def require_tools(args: argparse.Namespace) -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        raise BenchError(
            f"missing {', '.join(missing)}: install with "
            "`apt-get install -y wrk util-linux` (the load generator must be wrk)"
        )
    if any(target_server(t) == "granian" for t in args.targets) and not _has_granian():
        raise BenchError("@granian targets need Granian: pip install granian")
    if args.profile is not None and shutil.which("py-spy", path=_venv_path()) is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")


def _has_granian() -> bool:
    found = subprocess.run(
        [sys.executable, "-c", "import granian"], capture_output=True, check=False
    )
    return found.returncode == 0


def _venv_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- database


@dataclass
class Database:
    admin_url: str
    name: str

    @property
    def url(self) -> str:
        base = conninfo_to_dict(self.admin_url)
        base["dbname"] = self.name
        host = base.get("host", "127.0.0.1")
        port = base.get("port", "5432")
        user = base.get("user", "postgres")
        password = f":{base['password']}" if base.get("password") else ""
        return f"postgresql://{user}{password}@{host}:{port}/{self.name}"

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[Database]:
    name = f"todo_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"created database {name}")
    try:
        yield Database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped database {name}")


@dataclass
class Seed:
    readers: list[dict[str, Any]]  # {"id", "token", "tasks": [uuid str]}
    writers: list[dict[str, Any]]  # {"id", "token"}
    secret: str


def mint_token(secret: str, subject: str) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": subject, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, secret, algorithm="HS256")


def seed(db: Database, users: int, tasks_per_user: int, secret: str) -> Seed:
    """Readers own the seeded tasks; writers own what create makes (cleared after each run).
    Every user has its default list already, as after its first request, so the service and
    the references do the same work for a create: one statement."""
    now = dt.datetime.now(dt.UTC)
    readers: list[dict[str, Any]] = [{"id": str(uuid.uuid4()), "tasks": []} for _ in range(users)]
    writers: list[dict[str, Any]] = []
    for _ in range(users):
        user_id = str(uuid.uuid4())
        writers.append({"id": user_id, "token": mint_token(secret, user_id)})
    with db.connect() as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY task_lists (id, user_id, name, name_key, is_default, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for user in [*readers, *writers]:
                list_id = default_list_id(user["id"])
                copy.write_row((list_id, user["id"], "Tasks", "tasks", True, now, now))
        with cursor.copy(
            "COPY tasks (id, user_id, list_id, title, description, completed, created_at,"
            " updated_at, completed_at) FROM STDIN"
        ) as copy:
            for user_number, reader in enumerate(readers):
                user_id = reader["id"]
                task_ids = reader["tasks"]
                for task_number in range(tasks_per_user):
                    task_id = uuid.uuid4()
                    task_ids.append(str(task_id))
                    created = now - dt.timedelta(
                        days=tasks_per_user - task_number, seconds=user_number
                    )
                    completed = task_number % 3 == 0
                    description = (
                        f"Notes for task {task_number} of user {user_number}: "
                        "call back, compare offers, decide by Friday."
                        if task_number % 2 == 0
                        else None
                    )
                    copy.write_row(
                        (
                            task_id,
                            user_id,
                            default_list_id(user_id),
                            f"Task {task_number:03d} of user {user_number:03d}",
                            description,
                            completed,
                            created,
                            created,
                            created if completed else None,
                        )
                    )
                reader["token"] = mint_token(secret, user_id)
    settle(db)
    return Seed(readers=readers, writers=writers, secret=secret)


def reset_writes(db: Database, seeded: Seed) -> None:
    """Remove what create made and vacuum, so every run starts from the same table."""
    with db.connect() as conn:
        conn.execute(
            "DELETE FROM tasks WHERE user_id = ANY(%s)", ([w["id"] for w in seeded.writers],)
        )
    settle(db)


def settle(db: Database) -> None:
    with db.connect() as conn:
        conn.execute("VACUUM (ANALYZE) tasks")
        # Start each run right after a checkpoint, so none falls inside it by the clock.
        conn.execute("CHECKPOINT")


def count_tasks(db: Database) -> int:
    with db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM tasks").fetchone()
    return int(row[0]) if row else 0


def grow_table(db: Database, total_rows: int, tasks_per_user: int) -> float:
    """Fill the table up to `total_rows` with other users' tasks, in SQL; returns seconds."""
    started = time.monotonic()
    missing = total_rows - count_tasks(db)
    if missing <= 0:
        return 0.0
    filler_users = max(1, missing // tasks_per_user)
    with db.connect() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            """
            INSERT INTO task_lists
                (id, user_id, name, name_key, is_default, created_at, updated_at)
            SELECT md5('filler-list-' || k)::uuid, md5('filler-' || k)::uuid::text,
                   'Tasks', 'tasks', true, now(), now()
            FROM generate_series(0, %(users)s - 1) AS k
            ON CONFLICT DO NOTHING
            """,
            {"users": filler_users},
        )
        conn.execute(
            """
            INSERT INTO tasks
                (id, user_id, list_id, title, description, completed, created_at, updated_at,
                 completed_at)
            SELECT gen_random_uuid(),
                   md5('filler-' || (n %% %(users)s))::uuid::text,
                   md5('filler-list-' || (n %% %(users)s))::uuid,
                   'Filler task ' || n,
                   CASE WHEN n %% 2 = 0 THEN 'Filler notes for task ' || n END,
                   n %% 3 = 0,
                   at, at,
                   CASE WHEN n %% 3 = 0 THEN at END
            FROM generate_series(1, %(rows)s) AS n,
                 LATERAL (SELECT now() - make_interval(secs => n * 7) AS at) AS t
            """,
            {"users": filler_users, "rows": missing},
        )
    settle(db)
    return time.monotonic() - started


# --------------------------------------------------------------------------- PostgreSQL pinning


@contextlib.contextmanager
def postgres_pinned(db: Database, cpus: list[int], enabled: bool, nice: int) -> Iterator[str]:
    """Move the PostgreSQL server (postmaster and children) onto `cpus`, then restore it.

    New backends fork from the postmaster and inherit its affinity, so pinning the running
    processes covers the connections the servers open later. With a nice value, the
    PostgreSQL server's scheduler group gets it for the run too (then restored).
    """
    postmaster = postmaster_pid(db)
    if nice and postmaster is not None:
        previous_nice = set_autogroup_nice(postmaster, nice)
        try:
            with postgres_pinned(db, cpus, enabled, 0) as pinning:
                yield f"{pinning}, its scheduler group at nice {nice}"
        finally:
            if previous_nice is not None:
                set_autogroup_nice(postmaster, previous_nice)
        return
    if not enabled:
        yield "not pinned (--no-pin-postgres)"
        return
    if postmaster is None:
        yield "not pinned (its process was not found)"
        return
    try:
        pids = [postmaster, *_children(postmaster)]
        saved = {pid: os.sched_getaffinity(pid) for pid in pids}
        if saved[postmaster] == set(cpus) != os.sched_getaffinity(0):
            # Already on exactly our CPUs: left so by a run that was killed outright. Give
            # it back every CPU this process may use rather than keep it pinned for good.
            log("PostgreSQL was already pinned to the load generator's CPUs; will unpin it")
            saved = dict.fromkeys(pids, os.sched_getaffinity(0))
        for pid in pids:
            os.sched_setaffinity(pid, cpus)
    except OSError as error:
        yield f"not pinned ({type(error).__name__}: {error})"
        return
    try:
        yield f"pinned to CPUs {cpu_list(cpus)}"
    finally:
        for pid in [postmaster, *_children(postmaster)]:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, saved.get(pid, saved[postmaster]))


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes (all threads, plus children they have reaped), in seconds."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def postmaster_pid(db: Database) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError, psycopg.Error):
        with db.connect() as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        if row is not None:
            return int((Path(row[0]) / "postmaster.pid").read_text().split()[0])
    return None


@dataclass
class PostgresSample:
    cpu_by_pid: dict[int, float]
    sessions: int

    def cpu_since(self, earlier: PostgresSample) -> float:
        return sum(cpu - earlier.cpu_by_pid.get(pid, 0.0) for pid, cpu in self.cpu_by_pid.items())


class PostgresMonitor:
    """CPU of the PostgreSQL processes that work for the benchmark database.

    PostgreSQL may serve other databases on the same machine (other people's tests): only
    the backends connected to the benchmark database and the shared writer processes
    (WAL writer, background writer, checkpointer) are counted. One connection, opened once,
    so that watching adds no sessions.
    """

    SHARED = ("walwriter", "background writer", "checkpointer")

    def __init__(self, db: Database) -> None:
        self._conn = db.connect()

    def sample(self) -> PostgresSample:
        self._conn.execute("SELECT pg_stat_clear_snapshot()")
        pids = [
            int(row[0])
            for row in self._conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() "
                "AND pid <> pg_backend_pid()) OR backend_type = ANY(%s)",
                (list(self.SHARED),),
            )
        ]
        row = self._conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return PostgresSample(
            cpu_by_pid={pid: cpu_seconds([pid]) for pid in pids},
            sessions=int(row[0]) if row else 0,
        )

    def renice(self, value: int) -> None:
        """Give the benchmark database's backends (not other databases') this nice value."""
        for row in self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(row[0]), value)

    def close(self) -> None:
        self._conn.close()


def rss_kib(pid: int) -> int:
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# --------------------------------------------------------------------------- servers


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
    found = shutil.which("todo-api", path=_venv_path())
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


# --------------------------------------------------------------------------- sanity check


def call(
    url: str, method: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status, response_headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        status, response_headers = error.code, dict(error.headers)
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload, response_headers


# Fields that differ between two targets' writes by nature: each target creates its own task,
# and each update stamps its own time.
WRITE_FIELDS_THAT_DIFFER = frozenset({"id", "created_at", "updated_at", "etag"})


def sanity_check(servers: dict[str, Server], seeded: Seed) -> list[str]:
    """Each target answers the workloads' requests alike, so all do the same work."""
    problems: list[str] = []
    # The update goes to a third user, so it cannot change what the other target lists.
    reader, other, updater = seeded.readers[0], seeded.readers[1], seeded.readers[2]
    writer = seeded.writers[0]
    task_id = reader["tasks"][-1]
    answers: dict[str, dict[str, Any]] = {}
    for name, server in servers.items():
        checks = {
            "list": (call(server.url, "GET", "/tasks?limit=50", reader["token"]), 200),
            "get": (call(server.url, "GET", f"/tasks/{task_id}", reader["token"]), 200),
            "other user's task": (
                call(server.url, "GET", f"/tasks/{task_id}", other["token"]),
                403,
            ),
            "unknown task": (
                call(server.url, "GET", f"/tasks/{uuid.uuid4()}", reader["token"]),
                404,
            ),
            "no token": (call(server.url, "GET", "/tasks", None), 401),
            "bad token": (
                call(server.url, "GET", "/tasks", mint_token("wrong-secret-" * 4, reader["id"])),
                401,
            ),
            "create": (
                call(server.url, "POST", "/tasks", writer["token"], {"title": "  sanity  "}),
                201,
            ),
            "update": (
                call(
                    server.url,
                    "PATCH",
                    f"/tasks/{updater['tasks'][0]}",
                    updater["token"],
                    {"title": "sanity"},
                ),
                200,
            ),
        }
        for label, ((status, payload, _headers), expected) in checks.items():
            if status != expected:
                problems.append(f"{name} {label}: status {status}, expected {expected}: {payload}")
        created = checks["create"][0]
        if created[0] == 201:
            if created[1].get("title") != "sanity":
                problems.append(f"{name} create: title not trimmed: {created[1]}")
            if created[2].get("location") != f"/tasks/{created[1].get('id')}":
                problems.append(f"{name} create: no matching Location header")
        list_body = checks["list"][0][1]
        if checks["list"][0][0] == 200 and len(list_body.get("items", [])) != min(
            50, len(reader["tasks"])
        ):
            problems.append(f"{name} list: expected a full page, got {list_body}")
        answers[name] = {
            "list": list_body,
            "get": checks["get"][0][1],
            "create": _comparable_write(checks["create"][0][1]),
            "update": _comparable_write(checks["update"][0][1]),
        }
    first, *others = answers
    for name in others:
        for label in ("list", "get", "create", "update"):
            expected, got = answers[first][label], answers[name][label]
            if got != expected:
                problems.append(
                    f"{first} and {name} disagree on {label}:\n"
                    f"    {first:<16} {json.dumps(expected)[:400]}\n"
                    f"    {name:<16} {json.dumps(got)[:400]}"
                )
    return problems


def _comparable_write(body: Any) -> Any:
    """A write's response without the fields that differ by nature; every other field and
    the set of field names must match."""
    if not isinstance(body, dict):
        return body
    return {
        key: "<differs>" if key in WRITE_FIELDS_THAT_DIFFER else value
        for key, value in body.items()
    }


# --------------------------------------------------------------------------- wrk


@dataclass
class Run:
    phase: str
    workload: str
    target: str
    round: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    server_cpu_busy: float
    loadgen_cpu_busy: float
    server_cpu_us_per_request: float
    postgres_cpu_us_per_request: float
    wrk_cpu_us_per_request: float
    new_db_sessions: int
    foreign_cpu_percent: float
    errors: dict[str, int] = field(default_factory=dict)


def cpu_times() -> dict[int, tuple[int, int, int]]:
    """Per CPU: (busy, total, interrupt) jiffies from /proc/stat.

    Interrupt time (loopback networking runs in softirq) is busy time that /proc charges to
    no process, so it is kept apart when telling our CPU from other programs'.
    """
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(value) for value in values]
            idle = numbers[3] + numbers[4]
            interrupt = numbers[5] + numbers[6]
            times[int(name[3:])] = (sum(numbers[:8]) - idle, sum(numbers[:8]), interrupt)
    return times


QUIET_PERCENT = 15.0


def wait_for_quiet(limit_seconds: float) -> float:
    """Wait until the machine is nearly idle (our servers idle between runs); returns busy %."""
    deadline = time.monotonic() + limit_seconds
    while True:
        before = cpu_times()
        time.sleep(1)
        after = cpu_times()
        busy = 100 * sum(after[cpu][0] - before[cpu][0] for cpu in after) / CLOCK_TICKS
        if busy < QUIET_PERCENT or time.monotonic() >= deadline:
            return busy


def busy_percent(
    before: dict[int, tuple[int, int, int]],
    after: dict[int, tuple[int, int, int]],
    cpus: list[int],
) -> float:
    busy = sum(after[cpu][0] - before[cpu][0] for cpu in cpus)
    total = sum(after[cpu][1] - before[cpu][1] for cpu in cpus)
    return round(100.0 * busy / total, 1) if total else 0.0


def run_wrk(
    server: Server,
    workload: str,
    seconds: int,
    args: argparse.Namespace,
    data_path: Path,
    *,
    phase: str = "",
    round_number: int = 0,
) -> Run:
    command = [
        "taskset",
        "-c",
        cpu_list(args.loadgen_cpu_set),
        *niced(args),
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        server.url,
        "--",
        workload,
        str(data_path),
    ]
    server_pids = _tree(server.process.pid)
    monitor: PostgresMonitor = args.monitor
    if args.nice:
        monitor.renice(args.nice)
    before = cpu_times()
    server_before = cpu_seconds(server_pids)
    postgres_before = monitor.sample()
    with (
        tempfile.TemporaryFile("w+") as stdout,
        tempfile.TemporaryFile("w+") as stderr,
    ):
        process = subprocess.Popen(
            command, stdout=stdout, stderr=stderr, text=True, start_new_session=True
        )
        if args.nice:
            set_autogroup_nice(process.pid, args.nice)
        try:
            _pid, wait_status, usage = _wait4(process, seconds + 60)
        except subprocess.TimeoutExpired as error:
            process.kill()
            raise BenchError(f"wrk did not finish: {shlex.join(command)}") from error
        after = cpu_times()
        server_used = cpu_seconds(server_pids) - server_before
        postgres_after = monitor.sample()
        postgres_used = postgres_after.cpu_since(postgres_before)
        stdout.seek(0)
        stderr.seek(0)
        result = subprocess.CompletedProcess(
            command, os.waitstatus_to_exitcode(wait_status), stdout.read(), stderr.read()
        )
    wrk_used = usage.ru_utime + usage.ru_stime
    all_cpus = sorted(after)
    machine_used = (
        sum((after[cpu][0] - after[cpu][2]) - (before[cpu][0] - before[cpu][2]) for cpu in all_cpus)
        / CLOCK_TICKS
    )
    line = next(
        (row for row in result.stdout.splitlines() if row.startswith("BENCH_RESULT ")), None
    )
    if result.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed ({result.returncode}): {shlex.join(command)}\n"
            f"{result.stdout}\n{result.stderr}"
        )
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds_taken = raw["duration_us"] / 1e6
    socket_errors = sum(
        raw[key] for key in ("connect_errors", "read_errors", "write_errors", "timeout_errors")
    )
    return Run(
        phase=phase,
        workload=workload,
        target=server.name,
        round=round_number,
        requests=raw["requests"],
        seconds=round(seconds_taken, 3),
        rps=round(raw["requests"] / seconds_taken, 1) if seconds_taken else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        status_errors=raw["status_errors"],
        socket_errors=socket_errors,
        server_cpu_busy=busy_percent(before, after, args.server_cpu_set),
        loadgen_cpu_busy=busy_percent(before, after, args.loadgen_cpu_set),
        server_cpu_us_per_request=_per_request(server_used, raw["requests"]),
        postgres_cpu_us_per_request=_per_request(postgres_used, raw["requests"]),
        wrk_cpu_us_per_request=_per_request(wrk_used, raw["requests"]),
        # CPU (outside interrupts) that neither the server, wrk nor PostgreSQL used: other
        # work on the machine or the hypervisor's steal, in % of one core.
        new_db_sessions=postgres_after.sessions - postgres_before.sessions,
        foreign_cpu_percent=_foreign(
            machine_used - server_used - postgres_used - wrk_used, seconds_taken
        ),
        errors={key: raw[key] for key in raw if key.endswith("_errors")},
    )


def _foreign(cpu: float, seconds: float) -> float:
    return round(100 * max(0.0, cpu) / seconds, 1) if seconds else 0.0


def _per_request(cpu: float, requests: int) -> float:
    return round(cpu * 1e6 / requests, 1) if requests else 0.0


def _wait4(process: subprocess.Popen[str], timeout: float) -> tuple[int, int, Any]:
    """Wait for the process and return its resource usage (its own CPU time)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(wait_status)
            return pid, wait_status, usage
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(process.args, timeout)
        time.sleep(0.05)


def write_lua_data(path: Path, seeded: Seed) -> None:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["return {", "  readers = {"]
    for reader in seeded.readers:
        tasks = ", ".join(quoted(task) for task in reader["tasks"])
        lines.append(f"    {{ token = {quoted(reader['token'])}, tasks = {{ {tasks} }} }},")
    lines += ["  },", "  writers = {"]
    lines += [f"    {quoted(writer['token'])}," for writer in seeded.writers]
    lines += ["  },", "}", ""]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- measuring


def measure(
    phase: str,
    workloads: list[str],
    servers: dict[str, Server],
    args: argparse.Namespace,
    db: Database,
    seeded: Seed,
    data_path: Path,
) -> list[Run]:
    runs: list[Run] = []
    for round_number in range(args.rounds):
        for index, workload in enumerate(workloads):
            # Alternate which target goes first, so slow drift (autovacuum, caches, thermal)
            # does not always favour the same one.
            names = list(servers)
            if (round_number + index) % 2:
                names.reverse()
            for name in names:
                server = servers[name]
                if args.quiet_wait:
                    waited = time.monotonic()
                    busy = wait_for_quiet(args.quiet_wait)
                    if time.monotonic() - waited > 1.5:
                        log(f"waited {time.monotonic() - waited:.0f} s for a quiet machine")
                    if busy >= QUIET_PERCENT:
                        log(f"machine still {busy:.0f}% busy with other programs; measuring anyway")
                if args.warmup:
                    warm = run_wrk(server, workload, args.warmup, args, data_path)
                    if workload in WRITE_WORKLOADS:
                        reset_writes(db, seeded)
                    _check_run(warm, "warm-up")
                run = run_wrk(
                    server,
                    workload,
                    args.duration,
                    args,
                    data_path,
                    phase=phase,
                    round_number=round_number + 1,
                )
                runs.append(run)
                log(
                    f"{phase} round {run.round} {workload:<6} {name:<8} {run.rps:8.0f} req/s "
                    f"p50 {run.p50_ms:6.2f} ms p99 {run.p99_ms:6.2f} ms "
                    f"non-2xx {run.status_errors} socket errors {run.socket_errors} "
                    f"cpu server {run.server_cpu_busy:.0f}% loadgen {run.loadgen_cpu_busy:.0f}% "
                    f"{run.server_cpu_us_per_request:.0f}+{run.postgres_cpu_us_per_request:.0f} "
                    f"us/req, {run.new_db_sessions} new sessions, "
                    f"other {run.foreign_cpu_percent:.0f}%"
                )
                if workload in WRITE_WORKLOADS:
                    reset_writes(db, seeded)
    return runs


def _check_run(run: Run, label: str) -> None:
    if run.status_errors or run.socket_errors or run.requests == 0:
        raise BenchError(
            f"{label} {run.workload} on {run.target}: {run.requests} requests, "
            f"{run.status_errors} non-2xx/3xx, socket errors {run.errors}"
        )


def failures(runs: list[Run]) -> list[str]:
    return [
        f"{run.phase} {run.workload} on {run.target} round {run.round}: {run.requests} requests, "
        f"{run.status_errors} non-2xx/3xx, socket errors {run.errors}"
        for run in runs
        if run.status_errors or run.socket_errors or run.requests == 0
    ]


@dataclass
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_busy: float
    loadgen_cpu_busy: float
    server_cpu_us_per_request: float
    postgres_cpu_us_per_request: float
    wrk_cpu_us_per_request: float
    new_db_sessions: float
    foreign_cpu_percent: float


def summarise(runs: list[Run], phase: str) -> dict[tuple[str, str], Summary]:
    grouped: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        if run.phase == phase:
            grouped.setdefault((run.workload, run.target), []).append(run)
    return {
        key: Summary(
            rps=statistics.median(run.rps for run in group),
            p50_ms=statistics.median(run.p50_ms for run in group),
            p99_ms=statistics.median(run.p99_ms for run in group),
            server_cpu_busy=statistics.median(run.server_cpu_busy for run in group),
            loadgen_cpu_busy=statistics.median(run.loadgen_cpu_busy for run in group),
            server_cpu_us_per_request=statistics.median(
                run.server_cpu_us_per_request for run in group
            ),
            postgres_cpu_us_per_request=statistics.median(
                run.postgres_cpu_us_per_request for run in group
            ),
            wrk_cpu_us_per_request=statistics.median(run.wrk_cpu_us_per_request for run in group),
            new_db_sessions=statistics.median(run.new_db_sessions for run in group),
            foreign_cpu_percent=max(run.foreign_cpu_percent for run in group),
        )
        for key, group in grouped.items()
    }


# --------------------------------------------------------------------------- report


# Issue #16's targets for the service (all middleware on, one run, medians of the rounds).
MIN_THROUGHPUT_OF = {"baseline": 0.7, "asyncpg": 0.35}
MAX_P99_OF_BASELINE = 1.5
MAX_GET_SERVER_CPU_US = 700.0
MAX_BIG_TABLE_LATENCY = 1.2


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'} {text}"


def variants(targets: list[str]) -> list[tuple[str, str]]:
    """(variant, base) pairs: a target on Granian against it on uvicorn, the candidate build
    against the service."""
    pairs = []
    for target in targets:
        base = "service" if target == "candidate" else target_kind(target)
        if base != target and base in targets:
            pairs.append((target, base))
    return pairs


def report(
    args: argparse.Namespace,
    runs: list[Run],
    context: dict[str, Any],
) -> tuple[str, list[str]]:
    small = summarise(runs, "main")
    big = summarise(runs, "big")
    lines: list[str] = []
    verdicts: list[str] = []
    targets = args.targets
    references = [name for name in REFERENCES if name in targets]
    lines.append(
        f"Main table: {context['rows_main']:,} tasks ({args.users} users x "
        f"{args.tasks_per_user}), {args.connections} connections, {args.workers} worker(s), "
        f"medians of {args.rounds} round(s) of {args.duration} s, nice {args.nice}. "
        "Ratios are the target's figure / the reference's, from the same run:"
    )
    lines.append("")
    header = "| workload | target | req/s | p50 ms | p99 ms |"
    rule = "|---|---|---:|---:|---:|"
    for reference in references:
        header += f" req/s / {reference} | p99 / {reference} |"
        rule += "---:|---:|"
    lines += [header, rule]
    for workload in args.workloads:
        for target in targets:
            summary = small.get((workload, target))
            if summary is None:
                continue
            row = (
                f"| {workload} | {target} | {summary.rps:,.0f} | {summary.p50_ms:.2f} "
                f"| {summary.p99_ms:.2f} |"
            )
            for reference in references:
                other = small.get((workload, reference))
                if other is None or reference == target:
                    row += " - | - |"
                    continue
                row += f" {_ratio(summary.rps, other.rps)} |"
                row += f" {_ratio(summary.p99_ms, other.p99_ms)} |"
            lines.append(row)
        service = small.get((workload, "service"))
        if service is None:
            continue
        for reference in references:
            other = small.get((workload, reference))
            if other is None:
                continue
            floor = MIN_THROUGHPUT_OF[reference]
            verdicts.append(
                _verdict(
                    service.rps >= floor * other.rps,
                    f"{workload}: service throughput {_ratio(service.rps, other.rps)} of "
                    f"{reference} (target >= {floor})",
                )
            )
            if reference == "baseline":
                verdicts.append(
                    _verdict(
                        service.p99_ms <= MAX_P99_OF_BASELINE * other.p99_ms,
                        f"{workload}: service p99 {_ratio(service.p99_ms, other.p99_ms)}x "
                        f"baseline (target <= {MAX_P99_OF_BASELINE})",
                    )
                )
        if workload == "get":
            verdicts.append(
                _verdict(
                    service.server_cpu_us_per_request <= MAX_GET_SERVER_CPU_US,
                    f"get: service CPU {service.server_cpu_us_per_request:,.0f} us per request "
                    f"(target <= {MAX_GET_SERVER_CPU_US:.0f})",
                )
            )
    pairs = variants(targets)
    if pairs:
        lines.append("")
        lines.append(
            "Variants against their base, same run (Granian against uvicorn; the candidate "
            "build against the service): ratios variant / base."
        )
        lines.append("")
        lines.append(
            "| workload | variant | base | req/s ratio | p50 ratio | p99 ratio "
            "| server CPU us/req, variant | server CPU us/req, base |"
        )
        lines.append("|---|---|---|---:|---:|---:|---:|---:|")
        for workload in args.workloads:
            for variant, base in pairs:
                one, other = small.get((workload, variant)), small.get((workload, base))
                if one is None or other is None:
                    continue
                lines.append(
                    f"| {workload} | {variant} | {base} | {_ratio(one.rps, other.rps)} | "
                    f"{_ratio(one.p50_ms, other.p50_ms)} | {_ratio(one.p99_ms, other.p99_ms)} | "
                    f"{one.server_cpu_us_per_request:,.0f} | "
                    f"{other.server_cpu_us_per_request:,.0f} |"
                )
    lines.append("")
    lines.append(
        "Where the time goes (medians): CPU time per request "
        "of the server process(es) and of PostgreSQL (the benchmark database's backends and "
        "its WAL writer, background writer and checkpointer) and of wrk, how busy the "
        f"server CPUs ({cpu_list(args.server_cpu_set)}) and the load generator + PostgreSQL "
        f"CPUs ({cpu_list(args.loadgen_cpu_set)}) were, and the most CPU that other programs "
        "on the machine took in any round (% of one core; a few % is noise). New DB sessions: "
        "connections PostgreSQL accepted during a run (pool growth or churn):"
    )
    lines.append("")
    lines.append(
        "| workload | target | server CPU us/req | PostgreSQL CPU us/req | wrk CPU us/req "
        "| server CPUs busy | loadgen CPUs busy | new DB sessions | other programs |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload in args.workloads:
        for target in targets:
            summary = small.get((workload, target))
            if summary is None:
                continue
            lines.append(
                f"| {workload} | {target} | {summary.server_cpu_us_per_request:,.0f} | "
                f"{summary.postgres_cpu_us_per_request:,.0f} | "
                f"{summary.wrk_cpu_us_per_request:,.0f} | {summary.server_cpu_busy:.0f}% | "
                f"{summary.loadgen_cpu_busy:.0f}% | {summary.new_db_sessions:.0f} | "
                f"{summary.foreign_cpu_percent:.0f}% |"
            )
    if big:
        lines.append("")
        lines.append(
            f"Big table: {context['rows_big']:,} tasks (the benchmarked users still own "
            f"{args.tasks_per_user} each; filled in {context['grow_seconds']:.0f} s). "
            "Latency at the big table / at the main table:"
        )
        lines.append("")
        lines.append(
            "| workload | target | req/s small | req/s big | p50 ms small | p50 ms big | p50 ratio "
            "| p99 ms small | p99 ms big | p99 ratio |"
        )
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for workload in BIG_WORKLOADS:
            for target in targets:
                before, after = small.get((workload, target)), big.get((workload, target))
                if before is None or after is None:
                    continue
                lines.append(
                    f"| {workload} | {target} | {before.rps:,.0f} | {after.rps:,.0f} | "
                    f"{before.p50_ms:.2f} | {after.p50_ms:.2f} | "
                    f"{_ratio(after.p50_ms, before.p50_ms)} | {before.p99_ms:.2f} | "
                    f"{after.p99_ms:.2f} | {_ratio(after.p99_ms, before.p99_ms)} |"
                )
                if target == "service":
                    for label, small_ms, big_ms in (
                        ("p50", before.p50_ms, after.p50_ms),
                        ("p99", before.p99_ms, after.p99_ms),
                    ):
                        verdicts.append(
                            _verdict(
                                big_ms <= MAX_BIG_TABLE_LATENCY * small_ms,
                                f"{workload} {label} at {context['rows_big']:,} rows: "
                                f"{_ratio(big_ms, small_ms)}x the latency at "
                                f"{context['rows_main']:,} (target <= {MAX_BIG_TABLE_LATENCY})",
                            )
                        )
    lines.append("")
    for name, kib in context["rss_kib"].items():
        lines.append(f"Resident memory (RSS) of {name} at the end: {kib / 1024:.1f} MiB")
    lines.append(f"PostgreSQL: {context['postgres']}.")
    if verdicts:
        lines += ["", "Targets (issue #16):", ""]
        lines += [f"- {verdict}" for verdict in verdicts]
    return "\n".join(lines), verdicts


def machine_description() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (
        f"nproc {os.cpu_count()}, {model}{memory}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def tool_versions(db: Database) -> str:
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).splitlines()[0].split(" [")[0]
    with db.connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"{wrk_version}; PostgreSQL {row[0] if row else '?'}"


# --------------------------------------------------------------------------- profiling


def profile(
    servers: dict[str, Server],
    args: argparse.Namespace,
    db: Database,
    seeded: Seed,
    data_path: Path,
) -> None:
    """py-spy samples each target's worker(s) during one extra run per workload."""
    py_spy = shutil.which("py-spy", path=_venv_path())
    assert py_spy is not None
    args.profile.mkdir(parents=True, exist_ok=True)
    for workload in args.workloads:
        for name, server in servers.items():
            output = args.profile / f"{name}-{workload}.txt"
            recorder = subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    cpu_list(args.loadgen_cpu_set),
                    py_spy,
                    "record",
                    "--pid",
                    str(server.process.pid),
                    "--subprocesses",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--duration",
                    str(args.duration),
                    "--output",
                    str(output),
                    "--nonblocking",
                    "--threads",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            run = run_wrk(server, workload, args.duration, args, data_path, phase="profile")
            recorder.wait(timeout=args.duration + 30)
            if workload in WRITE_WORKLOADS:
                reset_writes(db, seeded)
            log(f"profile {workload:<6} {name:<8} {run.rps:8.0f} req/s -> {output}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]])
    started = time.monotonic()
    try:
        require_tools(args)
        return _bench(args, command, started)
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped and the database dropped")
        return 130


def _bench(args: argparse.Namespace, command: str, started: float) -> int:
    secret = secrets.token_urlsafe(48)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    work_dir = BENCH_DIR / "results" / run_id
    work_dir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    context: dict[str, Any] = {"rss_kib": {}, "grow_seconds": 0.0}
    with fresh_database(args.admin_url) as db:
        migrate(db, secret, work_dir)
        seeded = seed(db, args.users, args.tasks_per_user, secret)
        context["rows_main"] = count_tasks(db)
        data_path = work_dir / "data.lua"
        write_lua_data(data_path, seeded)
        log(
            f"seeded {context['rows_main']} tasks for {args.users} users; "
            f"servers on CPUs {cpu_list(args.server_cpu_set)}, wrk on "
            f"{cpu_list(args.loadgen_cpu_set)}"
        )
        with postgres_pinned(
            db, args.loadgen_cpu_set, not args.no_pin_postgres, args.nice
        ) as pinning:
            context["postgres"] = f"{tool_versions(db).split('; ')[1]}, {pinning}"
            context["tools"] = tool_versions(db)
            servers: dict[str, Server] = {}
            args.monitor = PostgresMonitor(db)
            try:
                check_connection_budget(db, args)
                for name in args.targets:
                    servers[name] = start_server(name, db, secret, args, work_dir)
                problems = sanity_check(servers, seeded)
                reset_writes(db, seeded)
                if problems:
                    raise BenchError("sanity check failed:\n  " + "\n  ".join(problems))
                runs += measure("main", args.workloads, servers, args, db, seeded, data_path)
                big_workloads = [w for w in BIG_WORKLOADS if w in args.workloads]
                if not args.skip_big and big_workloads:
                    log(f"growing the table to {args.big_rows:,} rows")
                    context["grow_seconds"] = grow_table(db, args.big_rows, args.tasks_per_user)
                    context["rows_big"] = count_tasks(db)
                    log(f"grown in {context['grow_seconds']:.0f} s")
                    runs += measure("big", big_workloads, servers, args, db, seeded, data_path)
                for name, server in servers.items():
                    context["rss_kib"][name] = rss_kib(server.process.pid)
                if args.profile is not None:
                    profile(servers, args, db, seeded, data_path)
            finally:
                args.monitor.close()
                for server in servers.values():
                    stop_server(server)
    text, verdicts = report(args, runs, context)
    elapsed = time.monotonic() - started
    header = (
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}\n"
        f"Machine: {machine_description()}\n"
        f"Tools: {context['tools']}\n"
        f"Command: `{command}` (took {elapsed:.0f} s)\n"
    )
    print(header)
    print(text)
    (work_dir / "runs.json").write_text(
        json.dumps({"runs": [asdict(run) for run in runs], "context": context}, indent=2)
    )
    if args.results_md is not None:
        args.results_md.write_text(f"# Benchmark results\n\n{header}\n{text}\n")
    bad = failures(runs)
    if bad:
        log("FAILED: non-2xx responses or socket errors:\n  " + "\n  ".join(bad))
        return 1
    if args.check_targets and any(verdict.startswith("FAIL") for verdict in verdicts):
        log("FAILED: the service misses a performance target")
        return 3
    log(f"done in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
