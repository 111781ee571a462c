"""`todo watch`: every change to your tasks and lists as it happens (`GET /events`)."""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

import click

from todo_cli import render
from todo_cli.commands.options import examples, service, service_options

# Waits between attempts to reconnect, doubled from the first up to the last, with jitter;
# back to the first once a connection has delivered anything.
FIRST_PAUSE_SECONDS = 0.5
LONGEST_PAUSE_SECONDS = 30.0


@click.command(
    name="watch",
    epilog=examples("todo watch", "todo watch --json | jq .event"),
)
@service_options
def watch(server: str | None, json_output: bool) -> None:
    """Print each change to your tasks and lists as it happens, until interrupted (Ctrl-C).

    A lost connection is reopened on its own, with growing pauses, and picks up after the
    last change shown: none is missed or shown twice. With --json, one JSON object a line:
    {"event", "id", "data"}, data as the API sends it.
    """
    from todo_cli.client import StreamInterruptedError

    with service(server) as client:
        last_id: str | None = None
        pause = FIRST_PAUSE_SECONDS
        opened = 0

        def say_open() -> None:
            nonlocal opened
            opened += 1
            what = "watching for changes (Ctrl-C to stop)" if opened == 1 else "reconnected"
            render.print_note(f"todo: {what}")

        while True:
            try:
                for event in client.stream_events(last_id, say_open):
                    pause = FIRST_PAUSE_SECONDS
                    if event.id is not None:
                        last_id = event.id
                    _show(event.name, event.data, event.id, json_output=json_output)
                # The service ended the stream (a restart, the token's expiry): reopen it
                # now; a login that expired meanwhile is then refused, and reported.
                continue
            except StreamInterruptedError as error:
                wait = max(pause * random.uniform(0.5, 1.0), error.retry_after or 0.0)  # noqa: S311
                render.print_note(f"todo: {error.message}; reconnecting in {wait:.1f} s")
                time.sleep(wait)
                pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


def _show(name: str, data: str, event_id: str | None, *, json_output: bool) -> None:
    try:
        value: Any = json.loads(data)
    except ValueError:
        value = data
    if json_output:
        print(json.dumps({"event": name, "id": event_id, "data": value}, ensure_ascii=False))
    else:
        print(describe(name, value))
    sys.stdout.flush()


def describe(name: str, value: Any) -> str:
    """One line for a person: what happened, to which task or list."""
    fields = value if isinstance(value, dict) else {}
    short = render.short_id(str(fields.get("id", "")))
    if name == "task":
        mark = render.done_mark() if fields.get("completed") is True else " "
        return f"task          {short}  [{mark}] {fields.get('title', '')}"
    if name == "task-deleted":
        return f"task deleted  {short}"
    if name == "list":
        return f"list          {short}  {fields.get('name', '')}"
    if name == "list-deleted":
        return f"list deleted  {short}"
    if name == "reset":
        return "reset: changes were missed; run `todo list` to see every task as it is now"
    return f"{name}  {json.dumps(value, ensure_ascii=False)}"
