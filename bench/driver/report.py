"""The report: medians of the rounds, the tables, the issue's targets, machine and tools."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .database import Database
from .options import BIG_WORKLOADS, REFERENCES, target_kind
from .pinning import cpu_list
from .wrk import Run


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
