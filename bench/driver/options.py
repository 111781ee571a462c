"""The command line of bench/run.py, the workloads, and the targets' names."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

WORKLOADS = ("list", "get", "create", "update", "mixed")
WRITE_WORKLOADS = {"create", "update", "mixed"}
BIG_WORKLOADS = ("list", "get")
# Kinds of target: the service, the two references, and another build of the service.
KINDS = ("service", "baseline", "asyncpg", "candidate")
REFERENCES = ("baseline", "asyncpg")
DEFAULT_TARGETS = ("service", "baseline", "asyncpg")
# A target runs on uvicorn unless its name says otherwise: `service@granian`.
SERVERS = ("uvicorn", "granian")


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
