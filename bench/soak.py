"""Soak test: a fixed-rate mixed load against a real `todo-api serve` on PostgreSQL.

Not part of CI. It creates a fresh database `todo_soak_<random>`, runs `todo-api migrate`,
starts the server with its own JWT_SECRET and a rate limit too high to matter, sends an
open-loop load (requests start on schedule whether or not earlier ones have finished, so a
slow server cannot slow the load down and hide its own latency), and prints per window:
requests, errors, latency percentiles (measured from each request's scheduled start) and
the server's resident memory. The database is dropped at the end.

    .venv/bin/python bench/soak.py --rate 200 --duration 600 --window 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


@dataclass
class Window:
    started: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    skipped: int = 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Database:
    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(admin_url).set(drivername="postgresql")
        self.name = f"todo_soak_{uuid.uuid4().hex[:10]}"
        self.url = self.admin.set(database=self.name).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection[Any]:
        dsn = self.admin.render_as_string(hide_password=False)
        return psycopg.connect(dsn, autocommit=True, connect_timeout=5)

    def create(self) -> None:
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


class Load:
    """The request mix: reads (list and get), creates and updates (patch and toggle)."""

    def __init__(self, client: httpx.AsyncClient, secret: str, users: int, hours: float) -> None:
        self.client = client
        now = datetime.now(UTC)
        self.headers = []
        for number in range(users):
            claims = {"sub": f"soak-{number}", "iat": now, "exp": now + timedelta(hours=hours)}
            token = jwt.encode(claims, secret, algorithm="HS256")
            self.headers.append({"Authorization": f"Bearer {token}"})
        self.task_ids: list[list[str]] = [[] for _ in range(users)]
        self.random = random.Random(1)

    async def create(self, user: int) -> httpx.Response:
        body = {"title": f"soak {self.random.randrange(10**6)}", "description": "load " * 8}
        response = await self.client.post("/tasks", json=body, headers=self.headers[user])
        if response.status_code == 201:
            self.task_ids[user].append(response.json()["id"])
        return response

    async def one(self, kind: str) -> httpx.Response:
        user = self.random.randrange(len(self.headers))
        headers = self.headers[user]
        ids = self.task_ids[user]
        if kind == "create" or not ids:
            return await self.create(user)
        task_id = self.random.choice(ids[-500:])
        if kind == "list":
            params = {"limit": 20, "sort": self.random.choice(["-created_at", "title"])}
            if self.random.random() < 0.3:
                params["q"] = "soak 1"
            return await self.client.get("/tasks", params=params, headers=headers)
        if kind == "get":
            return await self.client.get(f"/tasks/{task_id}", headers=headers)
        if kind == "toggle":
            return await self.client.patch(f"/tasks/{task_id}/toggle", headers=headers)
        body = {"title": f"changed {self.random.randrange(10**6)}"}
        return await self.client.patch(f"/tasks/{task_id}", json=body, headers=headers)


def choose_kind(draw: float, read: float, create: float) -> str:
    if draw < read:
        return "list" if draw < read / 2 else "get"
    if draw < read + create:
        return "create"
    return "toggle" if draw < read + create + (1 - read - create) / 3 else "patch"


async def run_load(
    args: argparse.Namespace, base_url: str, secret: str, pid: int
) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    timeout = httpx.Timeout(args.timeout)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        hours = (args.duration + 600) / 3600
        load = Load(client, secret, args.users, hours)
        for user in range(args.users):
            for _ in range(args.seed_tasks):
                await load.create(user)

        windows: list[Window] = [Window(started=time.monotonic())]
        # One worker per connection takes scheduled requests off a queue: the schedule is
        # open-loop, while the client never queues inside httpx's pool, whose bookkeeping
        # grows with the number of waiters.
        queue: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
        mix = random.Random(2)
        rss_start = rss_kib(pid)
        print(f"server pid {pid}, RSS at start {rss_start / 1024:.1f} MiB", flush=True)
        print(
            f"{'t (s)':>6} {'done':>6} {'req/s':>7} {'errors':>6} {'skipped':>7} "
            f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>8} {'RSS MiB':>8}",
            flush=True,
        )

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                kind, scheduled = item
                try:
                    response = await load.one(kind)
                    # Counted in the window in which the request completed.
                    into = windows[-1]
                    status = str(response.status_code)
                    into.statuses[status] += 1
                    if response.status_code >= 400:
                        into.errors[f"{kind} {status}"] += 1
                except httpx.HTTPError as error:
                    into = windows[-1]
                    into.errors[f"{kind} {type(error).__name__}"] += 1
                into.latencies.append((time.perf_counter() - scheduled) * 1000)

        workers = [asyncio.create_task(worker()) for _ in range(args.connections)]
        start = time.perf_counter()
        began = time.monotonic()
        interval = 1 / args.rate
        sent = 0
        while (scheduled := start + sent * interval) - start < args.duration:
            delay = scheduled - time.perf_counter()
            await asyncio.sleep(max(delay, 0))
            window = windows[-1]
            if time.monotonic() - window.started >= args.window:
                report(window, len(windows), args.window, pid)
                window = Window(started=time.monotonic())
                windows.append(window)
            sent += 1
            kind = choose_kind(mix.random(), args.read, args.create)
            window.by_kind[kind] += 1
            if queue.qsize() >= args.max_backlog:
                # The server is this far behind; count the request as not sent.
                window.skipped += 1
                continue
            queue.put_nowait((kind, scheduled))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        window = windows[-1]
        report(window, len(windows), args.window, pid)
        elapsed = time.monotonic() - began
        rss_end = rss_kib(pid)

    every = [latency for item in windows for latency in item.latencies]
    errors: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for item in windows:
        errors.update(item.errors)
        statuses.update(item.statuses)
    return {
        "requests": len(every),
        "skipped": sum(item.skipped for item in windows),
        "achieved_rps": round(len(every) / elapsed, 1),
        "errors": dict(errors),
        "statuses": dict(statuses),
        "p50_ms": round(percentile(every, 0.50), 2),
        "p90_ms": round(percentile(every, 0.90), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "p999_ms": round(percentile(every, 0.999), 2),
        "max_ms": round(max(every, default=float("nan")), 2),
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "tasks_created": sum(len(ids) for ids in load.task_ids),
    }


def report(window: Window, number: int, seconds: float, pid: int) -> None:
    latencies = window.latencies
    elapsed = max(time.monotonic() - window.started, 1e-9)
    errors = sum(window.errors.values())
    print(
        f"{number * seconds:>6.0f} {len(latencies):>6} {len(latencies) / elapsed:>7.1f} "
        f"{errors:>6} {window.skipped:>7} {percentile(latencies, 0.5):>7.1f} "
        f"{percentile(latencies, 0.9):>7.1f} {percentile(latencies, 0.99):>7.1f} "
        f"{max(latencies, default=float('nan')):>8.1f} {rss_kib(pid) / 1024:>8.1f}",
        flush=True,
    )
    if window.errors:
        print(f"       errors: {dict(window.errors)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--window", type=float, default=30, help="seconds per report line")
    parser.add_argument("--read", type=float, default=0.60, help="share of reads")
    parser.add_argument("--create", type=float, default=0.25, help="share of creates")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed-tasks", type=int, default=5, help="tasks per user before load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--max-backlog", type=int, default=2000, help="scheduled requests waiting, at most"
    )
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()

    # A plain `kill` still stops the server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = Database(args.admin_url)
    database.create()
    secret = secrets.token_urlsafe(48)
    workdir = Path(tempfile.mkdtemp(prefix="todo-soak-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DB_", "JWT_", "RATE_LIMIT_", "REDIS_URL", "LOG_"))
    }
    env.update(
        DATABASE_URL=database.url,
        JWT_SECRET=secret,
        RATE_LIMIT_TASKS="1000000000/minute",
        ENVIRONMENT="staging",
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "todo_api.commands"]
    server: subprocess.Popen[bytes] | None = None
    log_path = workdir / "server.log"
    try:
        subprocess.run([*command, "migrate"], env=env, cwd=workdir, check=True)
        port = free_port()
        with log_path.open("wb") as log_file:
            server = subprocess.Popen(
                [*command, "serve", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, server, log_path)
        print(
            f"soak: {args.rate:g} req/s for {args.duration:g} s, mix {args.read:.0%} read / "
            f"{args.create:.0%} create / {1 - args.read - args.create:.0%} update, "
            f"database {database.name}",
            flush=True,
        )
        summary = asyncio.run(run_load(args, base_url, secret, server.pid))
        print(json.dumps(summary, indent=2), flush=True)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
        log_errors = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if "error" in line.lower()
        ]
        print(f"server log lines mentioning errors: {len(log_errors)}", flush=True)
        for line in log_errors[:10]:
            print(f"  {line[:300]}", flush=True)
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        database.drop()
        print(f"dropped {database.name}; server log kept at {log_path}", flush=True)


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


if __name__ == "__main__":
    main()
