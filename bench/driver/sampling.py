"""What processes and CPUs did during a run, read from /proc: CPU time, memory, busy CPUs."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .database import Database

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for child in child_pids(pid):
        pids += process_tree(child)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes (all threads, plus children they have reaped), in seconds."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


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
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


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
