"""CPU lists for taskset, nice values, and PostgreSQL pinned to the load generator's CPUs."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg

from . import log
from .database import Database
from .sampling import child_pids


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
        pids = [postmaster, *child_pids(postmaster)]
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
        for pid in [postmaster, *child_pids(postmaster)]:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, saved.get(pid, saved[postmaster]))


def postmaster_pid(db: Database) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError, psycopg.Error):
        with db.connect() as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        if row is not None:
            return int((Path(row[0]) / "postmaster.pid").read_text().split()[0])
    return None
