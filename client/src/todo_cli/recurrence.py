"""`--every RULE [--tz ZONE]` and `--no-repeat`: a task's recurrence, as the service takes it;
and the line that tells when a recurring task is due next once it is done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from todo_cli import render

if TYPE_CHECKING:
    from todo_cli.client import Task

EVERY_HELP = (
    "Repeat by an RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=DAILY;INTERVAL=3 (needs a "
    "due date: the first occurrence). Done, the task moves to its next due date."
)
every_option = click.option("--every", metavar="RULE", help=EVERY_HELP)
tz_option = click.option(
    "--tz",
    "time_zone",
    metavar="ZONE",
    help="The IANA time zone whose local time the task keeps (Europe/Berlin) "
    "[default: this computer's, else UTC].",
)


def local_zone_name() -> str | None:
    """This computer's IANA time zone name, when it can tell: $TZ, else /etc/localtime."""
    named = os.environ.get("TZ", "").removeprefix(":")
    if ("/" in named and not named.startswith("/")) or named == "UTC":
        return named
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return None
    _, found, name = target.partition("zoneinfo/")
    return name if found and name else None


def recurrence(every: str, time_zone: str | None) -> dict[str, Any]:
    """The `recurrence` of a task repeating by `every`, in `time_zone` (else this computer's
    zone, else the service's default, UTC)."""
    value: dict[str, Any] = {"rule": every}
    zone = time_zone or local_zone_name()
    if zone:
        value["time_zone"] = zone
    return value


def check_options(every: str | None, time_zone: str | None, *, no_repeat: bool = False) -> None:
    if time_zone is not None and every is None:
        raise click.UsageError("--tz goes with --every")
    if no_repeat and every is not None:
        raise click.UsageError("--every and --no-repeat cannot be used together")


def next_due_line(task: Task) -> str | None:
    """For a recurring task that stayed open when marked done: when it is due next."""
    if task.get("completed") is not False or not task.get("recurrence"):
        return None
    due = render.parse_time(task.get("due_at"))
    return f"Next due {render.local_time(due)}"
