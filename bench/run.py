"""Benchmark the service against two bare references with wrk.

The references: bench/baseline.py (psycopg 3) and bench/reference_asyncpg.py (the same app on
asyncpg, one statement per request).

    .venv/bin/python bench/run.py            # full run, about 20 minutes
    .venv/bin/python bench/run.py --smoke    # CI: every workload, all three targets, ~2 s each

See bench/README.md for what is measured and how to read the table; the parts of the
driver are in bench/driver/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from driver import BENCH_DIR, BenchError, log
from driver.database import count_tasks, fresh_database, grow_table, reset_writes, seed
from driver.measuring import failures, measure, profile
from driver.options import BIG_WORKLOADS, parse_args
from driver.pinning import cpu_list, postgres_pinned
from driver.report import machine_description, report, tool_versions
from driver.sampling import PostgresMonitor, rss_kib
from driver.sanity import sanity_check
from driver.targets import (
    Server,
    check_connection_budget,
    migrate,
    require_tools,
    start_server,
    stop_server,
)
from driver.wrk import Run, write_lua_data


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
