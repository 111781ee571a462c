"""What `todo` prints: tables and short lines for people, the API's JSON for programs.

Colour comes from rich, which turns it off when the output is not a terminal or NO_COLOR is
set; rich is imported only by the table (~25 ms).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from todo_cli.due import END_OF_DAY

Task = dict[str, Any]
SHORT_ID_LENGTH = 8
TAGS_MAX_WIDTH = 24
PRIORITY_STYLES = {"high": "bold red", "medium": "yellow", "low": "cyan"}
# Wide enough that nothing is cut when the output goes to a file or a pipe.
UNBOUNDED_WIDTH = 10_000
LIST_MAX_WIDTH = 20


def short_id(task_id: str) -> str:
    return task_id[:SHORT_ID_LENGTH]


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def print_line(message: str) -> None:
    print(message)


def print_note(message: str) -> None:
    """A remark for the person, kept out of standard output so pipes see only the data."""
    print(message, file=sys.stderr)


def confirmation(verb: str, task: Task) -> str:
    return f"{verb} {short_id(str(task.get('id', '')))}  {task.get('title', '')}"


def done_mark() -> str:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    return "✓" if encoding.startswith("utf") else "x"


def print_task_table(
    tasks: Sequence[Task],
    *,
    now: datetime | None = None,
    list_names: Mapping[str, str] | None = None,
) -> None:
    """The tasks as a table; with `list_names` (list id to name), a LIST column too."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    now = now or datetime.now().astimezone()
    terminal = sys.stdout.isatty()
    console = Console(
        highlight=False,
        # NO_COLOR (no-color.org) turns off every escape sequence here, bold and dim too, so
        # that what is printed is exactly the text.
        color_system="auto" if terminal and not os.environ.get("NO_COLOR") else None,
        width=None if terminal or "COLUMNS" in os.environ else UNBOUNDED_WIDTH,
    )
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    # Only TITLE and TAGS give way when the terminal is narrow (rich narrows the columns that
    # may wrap; their cells are then cut with an ellipsis rather than wrapped).
    table.add_column("ID", no_wrap=True, min_width=SHORT_ID_LENGTH, style="dim")
    table.add_column(done_mark(), no_wrap=True)
    table.add_column("PRI", no_wrap=True)
    table.add_column("DUE", no_wrap=True)
    if list_names is not None:
        table.add_column("LIST", max_width=LIST_MAX_WIDTH)
    table.add_column("TITLE")
    table.add_column("TAGS", max_width=TAGS_MAX_WIDTH)
    mark = done_mark()
    for task in tasks:
        completed = task.get("completed") is True
        priority = str(task.get("priority") or "none")
        due = parse_time(task.get("due_at"))
        overdue = due is not None and not completed and due < now
        cells = [
            # Text, never a plain string: rich would read "[...]" in a title as markup.
            Text(short_id(str(task.get("id", "")))),
            Text(mark if completed else ""),
            Text("" if priority == "none" else priority, style=PRIORITY_STYLES.get(priority, "")),
            Text(describe_due(due, now) if due else "", style="red" if overdue else ""),
        ]
        if list_names is not None:
            name = list_names.get(str(task.get("list_id", "")), "")
            cells.append(Text(name, no_wrap=True, overflow="ellipsis"))
        table.add_row(
            *cells,
            Text(str(task.get("title", "")), no_wrap=True, overflow="ellipsis"),
            Text(", ".join(task.get("tags") or []), no_wrap=True, overflow="ellipsis"),
            style="dim" if completed else None,
        )
    with console.capture() as captured:
        console.print(table)
    # rich pads every cell to its column's width; trailing blanks only get in the way.
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_list_table(lists: Sequence[dict[str, Any]], counts: Sequence[tuple[int, int]]) -> None:
    """The lists with their open and total task counts; `*` marks the default list."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    terminal = sys.stdout.isatty()
    console = Console(
        highlight=False,
        color_system="auto" if terminal and not os.environ.get("NO_COLOR") else None,
        width=None if terminal or "COLUMNS" in os.environ else UNBOUNDED_WIDTH,
    )
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("LIST")
    table.add_column("OPEN", justify="right", no_wrap=True)
    table.add_column("TASKS", justify="right", no_wrap=True)
    for task_list, (open_count, total) in zip(lists, counts, strict=True):
        table.add_row(
            Text("*" if task_list.get("is_default") else ""),
            Text(str(task_list.get("name", "")), no_wrap=True, overflow="ellipsis"),
            Text(str(open_count)),
            Text(str(total)),
        )
    with console.capture() as captured:
        console.print(table)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_task(task: Task, *, now: datetime | None = None) -> None:
    now = now or datetime.now().astimezone()
    completed = task.get("completed") is True
    completed_at = parse_time(task.get("completed_at"))
    status = "done" if completed else "open"
    if completed and completed_at:
        status += f" (since {local_time(completed_at)})"
    due = parse_time(task.get("due_at"))
    rows = [
        ("id", str(task.get("id", ""))),
        ("status", status),
        ("priority", str(task.get("priority") or "none")),
        ("due", describe_due_in_full(due, now, completed=completed)),
        ("tags", ", ".join(task.get("tags") or []) or "-"),
        ("repeats", _repeats(task.get("recurrence"))),
        ("created", local_time(parse_time(task.get("created_at")))),
        ("updated", local_time(parse_time(task.get("updated_at")))),
    ]
    lines = [str(task.get("title", ""))]
    lines += [f"  {name:<9} {value}" for name, value in rows]
    description = task.get("description")
    if description:
        lines.append("")
        lines += [f"  {line}" for line in str(description).splitlines()]
    print("\n".join(lines))


def _repeats(recurrence: Any) -> str:
    if not isinstance(recurrence, dict):
        return "-"
    after = " after completion" if recurrence.get("from") == "completion" else ""
    return f"{recurrence.get('rule')} ({recurrence.get('time_zone')}){after}"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def describe_due_in_full(due: datetime | None, now: datetime, *, completed: bool) -> str:
    if due is None:
        return "-"
    remarks = [] if describe_due(due, now)[0].isdigit() else [describe_due(due, now)]
    if not completed and due < now:
        remarks.append("overdue")
    return f"{local_time(due)} ({', '.join(remarks)})" if remarks else local_time(due)


def describe_due(due: datetime, now: datetime) -> str:
    """The local date, named when it is near; the time unless it is the end of the day (what
    a date alone means to `--due`)."""
    local = due.astimezone()
    today = now.astimezone().date()
    names = {
        today - timedelta(days=1): "yesterday",
        today: "today",
        today + timedelta(days=1): "tomorrow",
    }
    day = names.get(local.date(), local.date().isoformat())
    if local.time().replace(microsecond=0) == END_OF_DAY:
        return day
    return f"{day} {local:%H:%M}"


def print_app_password_table(passwords: Sequence[dict[str, Any]]) -> None:
    """App passwords: short id, name, when made and when last used (local time)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not passwords:
        print_note("No app passwords yet: make one with `todo app-password create NAME`.")
        return
    terminal = sys.stdout.isatty()
    console = Console(
        highlight=False,
        color_system="auto" if terminal and not os.environ.get("NO_COLOR") else None,
        width=None if terminal or "COLUMNS" in os.environ else UNBOUNDED_WIDTH,
    )
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("NAME")
    table.add_column("CREATED", no_wrap=True)
    table.add_column("LAST USED", no_wrap=True)
    for item in passwords:
        last_used = parse_time(item.get("last_used_at"))
        table.add_row(
            Text(short_id(str(item.get("id", "")))),
            Text(str(item.get("name", "")), no_wrap=True, overflow="ellipsis"),
            Text(local_time(parse_time(item.get("created_at")))),
            Text(local_time(last_used) if last_used else "never"),
        )
    with console.capture() as captured:
        console.print(table)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))
