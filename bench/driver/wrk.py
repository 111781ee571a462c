"""One wrk run against one target, with the CPU each side used while it ran."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import BENCH_DIR, BenchError
from .database import Seed
from .pinning import cpu_list, niced, set_autogroup_nice
from .sampling import (
    CLOCK_TICKS,
    PostgresMonitor,
    busy_percent,
    cpu_seconds,
    cpu_times,
    process_tree,
)
from .targets import Server

LUA_SCRIPT = BENCH_DIR / "workload.lua"


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
    server_pids = process_tree(server.process.pid)
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
