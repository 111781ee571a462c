"""The rounds: every workload against every target, and the py-spy profiles after them."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from . import BenchError, log
from .database import Database, Seed, reset_writes
from .options import WRITE_WORKLOADS
from .pinning import cpu_list
from .sampling import QUIET_PERCENT, wait_for_quiet
from .targets import Server, venv_path
from .wrk import Run, run_wrk


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


def profile(
    servers: dict[str, Server],
    args: argparse.Namespace,
    db: Database,
    seeded: Seed,
    data_path: Path,
) -> None:
    """py-spy samples each target's worker(s) during one extra run per workload."""
    py_spy = shutil.which("py-spy", path=venv_path())
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
