"""Live updates at scale: idle streams one worker holds, event latency, and what open streams
cost the task workloads.

    .venv/bin/python bench/streams.py                 # all three, about 4 minutes
    .venv/bin/python bench/streams.py --compare-sse   # the response class, by memory per stream

0. Notify: the write workloads with the NOTIFY triggers of migration 0009 enabled and
   disabled in turn (ALTER TABLE ... DISABLE TRIGGER USER), no stream open.
1. Latency: LATENCY_STREAMS streams open (a user each), then CHANGES tasks created one by one
   for random users among them; for each, the time from just before its POST was sent (an
   upper bound of "from its commit") to its event's arrival at the client, p50/p99/max.
2. Cost: the wrk workloads of bench/run.py (list, get, create) against the service, each
   round once without and once with COST_STREAMS idle streams open (held by another
   process on the load generator's CPU), in alternating order; the ratio of the medians.
3. Capacity: the worker's resident memory before and after opening STREAMS idle streams.

The service runs as bench/run.py runs it (one worker on CPU 0, PostgreSQL and the clients on
CPU 1); streams come from bench/driver/streams.py (raw sockets, a few KiB each).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from driver import BENCH_DIR, log
from driver.database import fresh_database, mint_token, reset_writes, seed
from driver.options import parse_args
from driver.pinning import cpu_list
from driver.sampling import PostgresMonitor, rss_kib
from driver.streams import drain, open_streams, read_events, title_of
from driver.targets import Server, migrate, require_tools, start_server, stop_server
from driver.wrk import run_wrk, write_lua_data

COST_WORKLOADS = ("list", "get", "create")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/streams.py", description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=5000, help="idle streams (capacity)")
    parser.add_argument("--latency-streams", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=200, help="changes timed (latency)")
    parser.add_argument("--cost-streams", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0, help="as bench/run.py --nice")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--phases",
        default="cost,notify,latency,capacity",
        help="which measurements (in this order)",
    )
    parser.add_argument("--compare-sse", action="store_true", help="see bench/sse_choice.py")
    parser.add_argument("--hold", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    return parser.parse_args()


def tokens_for(secret: str, count: int, prefix: str) -> list[str]:
    return [mint_token(secret, f"{prefix}-{number}") for number in range(count)]


async def hold(port: int, tokens: list[str]) -> None:
    """The other process of the cost phase: open the streams, say so, hold them until told."""
    streams = await open_streams(port, tokens)
    drain(streams)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for stream in streams:
        stream.close()


async def measure_latency(server: Server, secret: str, streams: int, changes: int) -> str:
    tokens = tokens_for(secret, streams, "latency")
    opened = await open_streams(server.port, tokens)
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    arrived: dict[str, float] = {}
    everything = asyncio.Event()

    def on_data(data: bytes, at: float) -> None:
        title = title_of(data)
        if title in sent:
            arrived[title] = at
            if len(arrived) == changes:
                everything.set()

    for stream in opened:
        stream.reading = asyncio.create_task(read_events(stream, on_data))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for number in range(changes):
            title = f"latency {number}"
            headers = {"Authorization": f"Bearer {random.choice(tokens)}"}
            sent[title] = time.monotonic()
            response = await http.post("/tasks", json={"title": title}, headers=headers)
            answered[title] = time.monotonic()
            response.raise_for_status()
            await asyncio.sleep(0.02)
    try:
        async with asyncio.timeout(10):
            await everything.wait()
    except TimeoutError:
        log(f"only {len(arrived)} of {changes} events arrived")
    for stream in opened:
        stream.close()
    from_send = sorted((arrived[t] - sent[t]) * 1000 for t in arrived)
    from_answer = sorted((arrived[t] - answered[t]) * 1000 for t in arrived)
    return (
        f"latency with {streams} streams open, {len(arrived)}/{changes} events: from POST sent "
        f"p50 {percentile(from_send, 50):.1f} ms, p99 {percentile(from_send, 99):.1f} ms, "
        f"max {from_send[-1]:.1f} ms; from its 201 received p50 "
        f"{percentile(from_answer, 50):.1f} ms, p99 {percentile(from_answer, 99):.1f} ms"
    )


def percentile(values: list[float], percent: float) -> float:
    index = min(len(values) - 1, round(percent / 100 * (len(values) - 1)))
    return values[index]


def measure_cost(server: Server, args: argparse.Namespace, bench: argparse.Namespace) -> str:
    data_path, db, seeded = bench.data_path, bench.db, bench.seeded
    rps: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(args.rounds):
        for index, workload in enumerate(COST_WORKLOADS):
            order = [False, True] if (round_number + index) % 2 == 0 else [True, False]
            for with_streams in order:
                holder = start_holder(server, args) if with_streams else None
                try:
                    run_wrk(server, workload, 2, bench, data_path)
                    run = run_wrk(server, workload, args.duration, bench, data_path)
                finally:
                    if holder is not None:
                        stop_holder(holder)
                if workload != "list" and workload != "get":
                    reset_writes(db, seeded)
                rps.setdefault((workload, with_streams), []).append(run.rps)
                log(
                    f"cost round {round_number + 1} {workload:<6} "
                    f"{'with' if with_streams else 'without'} {args.cost_streams} streams: "
                    f"{run.rps:.0f} req/s, p99 {run.p99_ms:.2f} ms, errors "
                    f"{run.status_errors + run.socket_errors}"
                )
    lines = [f"cost of {args.cost_streams} idle streams (median req/s of {args.rounds} rounds):"]
    for workload in COST_WORKLOADS:
        without = statistics.median(rps[(workload, False)])
        with_open = statistics.median(rps[(workload, True)])
        lines.append(
            f"  {workload:<6} without {without:7.0f}  with {with_open:7.0f}  "
            f"ratio {with_open / without:.3f}"
        )
    return "\n".join(lines)


def measure_notify(server: Server, args: argparse.Namespace, bench: argparse.Namespace) -> str:
    """What the NOTIFY triggers of migration 0009 cost the writes, with no stream open: the
    write workloads with the triggers enabled and disabled in turn, same run."""
    rps: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(args.rounds):
        for index, workload in enumerate(("create", "update")):
            order = [True, False] if (round_number + index) % 2 == 0 else [False, True]
            for enabled in order:
                switch = "ENABLE" if enabled else "DISABLE"
                with bench.db.connect() as connection:
                    connection.execute(f"ALTER TABLE change_counters {switch} TRIGGER USER")
                run_wrk(server, workload, 2, bench, bench.data_path)
                run = run_wrk(server, workload, args.duration, bench, bench.data_path)
                reset_writes(bench.db, bench.seeded)
                rps.setdefault((workload, enabled), []).append(run.rps)
                log(
                    f"notify round {round_number + 1} {workload:<6} triggers {switch}D: "
                    f"{run.rps:.0f} req/s, p99 {run.p99_ms:.2f} ms"
                )
    with bench.db.connect() as connection:
        connection.execute("ALTER TABLE change_counters ENABLE TRIGGER USER")
    lines = [f"cost of the NOTIFY triggers to writes (median req/s of {args.rounds} rounds):"]
    for workload in ("create", "update"):
        off = statistics.median(rps[(workload, False)])
        on = statistics.median(rps[(workload, True)])
        lines.append(f"  {workload:<6} without {off:7.0f}  with {on:7.0f}  ratio {on / off:.3f}")
    return "\n".join(lines)


def start_holder(server: Server, args: argparse.Namespace) -> subprocess.Popen[str]:
    command = [
        "taskset",
        "-c",
        cpu_list(args.loadgen_cpu_set),
        sys.executable,
        str(Path(__file__).resolve()),
        "--hold",
        str(args.cost_streams),
        "--port",
        str(server.port),
        "--secret",
        args.secret,
    ]
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "ready":
        raise SystemExit("the stream holder failed")
    return holder


def stop_holder(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)


async def measure_capacity(server: Server, secret: str, count: int) -> str:
    before = rss_kib(server.process.pid)
    started = time.monotonic()
    streams = await open_streams(server.port, tokens_for(secret, count, "idle"))
    opened_in = time.monotonic() - started
    drain(streams)
    await asyncio.sleep(3)
    after = rss_kib(server.process.pid)
    for stream in streams:
        stream.close()
    per_stream = (after - before) / count
    return (
        f"capacity: {count} idle streams opened in {opened_in:.1f} s; worker RSS "
        f"{before / 1024:.0f} MiB before, {after / 1024:.0f} MiB with them open: "
        f"{per_stream:.1f} KiB per stream"
    )


def main() -> int:
    args = options()
    if args.hold is not None:
        asyncio.run(hold(args.port, tokens_for(args.secret, args.hold, "held")))
        return 0
    if args.compare_sse:
        from sse_choice import compare

        print(compare(args.streams if args.streams != 5000 else 2000))
        return 0
    bench = parse_args(["--targets", "service", "--nice", str(args.nice)])
    require_tools(bench)
    args.loadgen_cpu_set = bench.loadgen_cpu_set
    args.secret = secret = secrets.token_urlsafe(48)
    work_dir = BENCH_DIR / "results" / f"streams-{time.strftime('%Y%m%d-%H%M%S')}"
    work_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with fresh_database(args.admin_url) as db:
        migrate(db, secret, work_dir)
        bench.seeded = seed(db, bench.users, bench.tasks_per_user, secret)
        bench.db, bench.data_path = db, work_dir / "data.lua"
        write_lua_data(bench.data_path, bench.seeded)
        bench.monitor = PostgresMonitor(db)
        phases = args.phases.split(",")
        server = start_server("service", db, secret, bench, work_dir)
        try:
            if "cost" in phases:
                lines.append(measure_cost(server, args, bench))
            if "notify" in phases:
                lines.append(measure_notify(server, args, bench))
            if "latency" in phases:
                latency = measure_latency(server, secret, args.latency_streams, args.changes)
                lines.append(asyncio.run(latency))
            if "capacity" in phases:
                # First in the worker that served the phases above, then in a fresh one.
                lines.append(asyncio.run(measure_capacity(server, secret, args.streams)))
                stop_server(server)
                server = start_server("service", db, secret, bench, work_dir)
                fresh = measure_capacity(server, secret, args.streams)
                lines.append(f"fresh worker: {asyncio.run(fresh)}")
        finally:
            stop_server(server)
            bench.monitor.close()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
