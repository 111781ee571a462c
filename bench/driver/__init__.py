"""The parts of bench/run.py, the wrk benchmark's driver, one module per concern:

- options: the command line, the workloads and the kinds of target;
- database: the benchmark database, created fresh, seeded, reset after writes, grown;
- targets: the tools a run needs, and starting and stopping the service and the references;
- pinning: CPU lists, nice values, and PostgreSQL moved onto the load generator's CPUs;
- sampling: CPU time and memory of processes and of CPUs, read from /proc;
- sanity: every target answers the workloads' requests alike before anything is measured;
- wrk: one wrk run and its numbers;
- measuring: the rounds of runs, and the py-spy profiles;
- report: the tables, the issue's targets PASS or FAIL, the machine and tool versions.

Here is what they all share: the bench folder, the log line and the error that stops a run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """The benchmark cannot run or its measurement is not valid."""
