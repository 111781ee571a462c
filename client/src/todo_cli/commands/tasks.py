"""`todo add`, `list`, `show`, `done`, `undo`, `edit` and `rm`: the commands on tasks."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from todo_cli import render
from todo_cli.commands.options import (
    PRIORITIES,
    due_option,
    examples,
    priority_option,
    service,
    service_options,
    task_id_argument,
)
from todo_cli.due import to_rfc3339
from todo_cli.errors import DeclinedError
from todo_cli.recurrence import every_option, tz_option

if TYPE_CHECKING:
    from todo_cli.client import Task

SORT_KEYS = tuple(
    f"{direction}{key}"
    for key in ("created_at", "updated_at", "title", "due_at", "priority", "position")
    for direction in ("", "-")
)
DEFAULT_SORT = "-created_at"
DEFAULT_LIST_LIMIT = 50


@click.command(
    epilog=examples(
        "todo add Buy milk",
        'todo add "Send the report" -d "Q3 figures" -p high --due 2026-12-01 -t work',
        "todo add Call the bank --due 2026-12-01T09:30",
        "todo add Oat milk --list groceries",
        "todo add Buy stamps --parent 3f2a",
        "todo add Standup --due 2026-12-07T09:00 --every 'FREQ=WEEKLY;BYDAY=MO,TH'",
    )
)
@click.argument("title", nargs=-1, required=True)
@click.option("-d", "--description", metavar="TEXT", help="Details.")
@priority_option
@due_option
@click.option("-t", "--tag", "tags", multiple=True, metavar="TAG", help="A tag (repeatable).")
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help="Into this list (its name, in any case) [default: your default list].",
)
@click.option("--parent", metavar="ID", help="As a subtask of this task, in its list.")
@every_option
@tz_option
@service_options
def add(
    title: tuple[str, ...],
    description: str | None,
    priority: str | None,
    due: datetime | None,
    tags: tuple[str, ...],
    list_name: str | None,
    parent: str | None,
    every: str | None,
    time_zone: str | None,
    server: str | None,
    json_output: bool,
) -> None:
    """Add a task.

    The words of TITLE are joined by spaces, so quotes are optional. The request carries an
    Idempotency-Key and is retried when the connection is lost or the service is briefly
    unavailable, without ever creating the task twice.
    """
    from todo_cli import recurrence

    recurrence.check_options(every, time_zone)
    if every is not None and due is None:
        raise click.UsageError("--every needs --due: the first occurrence")
    fields: dict[str, Any] = {"title": " ".join(title)}
    if every is not None:
        fields["recurrence"] = recurrence.recurrence(every, time_zone)
    if description is not None:
        fields["description"] = description
    if priority is not None:
        fields["priority"] = priority.lower()
    if due is not None:
        fields["due_at"] = to_rfc3339(due)
    if tags:
        fields["tags"] = list(tags)
    with service(server) as client:
        if list_name is not None:
            from todo_cli.lookup import find_list

            fields["list_id"] = find_list(client.list_lists(), list_name)["id"]
        if parent is not None:
            from todo_cli.lookup import find_task

            fields["parent_id"] = find_task(client, parent).id
        task = client.create_task(fields)
    _print_task_result("Added", task, json_output)


@click.command(
    name="list",
    epilog=examples(
        "todo list",
        "todo list --open -t work --sort due_at",
        "todo list --done -s milk",
        "todo list --all --json | jq '.[].title'",
        "todo list --list groceries --open",
    ),
)
@click.option("--open", "open_only", is_flag=True, help="Only tasks not done.")
@click.option("--done", "done_only", is_flag=True, help="Only tasks done.")
@click.option(
    "-t", "--tag", "tags", multiple=True, metavar="TAG", help="With this tag (all when repeated)."
)
@click.option(
    "-p",
    "--priority",
    "priorities",
    multiple=True,
    type=click.Choice(PRIORITIES, case_sensitive=False),
    help="Of this priority (any when repeated).",
)
@click.option("-s", "--search", metavar="TEXT", help="Text in the title or description.")
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    metavar="KEY",
    help=(
        f"One of {', '.join(SORT_KEYS)} [default: position (the manual order) with --list, "
        f"else {DEFAULT_SORT}]."
    ),
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help=f"At most N tasks [default: {DEFAULT_LIST_LIMIT}]; with --all, tasks per request.",
)
@click.option("--all", "every", is_flag=True, help="Every matching task, page after page.")
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help="Only the tasks of this list (its name, in any case) [default: every list].",
)
@service_options
def list_tasks(
    open_only: bool,
    done_only: bool,
    tags: tuple[str, ...],
    priorities: tuple[str, ...],
    search: str | None,
    sort: str | None,
    limit: int | None,
    every: bool,
    list_name: str | None,
    server: str | None,
    json_output: bool,
) -> None:
    """List your tasks, newest first; with --list, that list in its manual order.

    Columns: short id, done mark, priority, due date (red when overdue), the list when the
    tasks shown are in several lists, title (subtasks indented under their parents), tags.
    With --json, the array of the tasks of every page fetched.
    """
    if open_only and done_only:
        raise click.UsageError("--open and --done cannot be used together")
    filters: dict[str, Any] = {"sort": sort or ("position" if list_name else DEFAULT_SORT)}
    if open_only or done_only:
        filters["completed"] = "true" if done_only else "false"
    if tags:
        filters["tag"] = list(tags)
    if priorities:
        filters["priority"] = [priority.lower() for priority in priorities]
    if search:
        filters["q"] = search
    from todo_cli.client import PAGE_SIZE

    with service(server) as client:
        lists = None
        if list_name is not None:
            from todo_cli.lookup import find_list

            lists = client.list_lists()
            filters["list_id"] = find_list(lists, list_name)["id"]
        if every:
            found = client.list_tasks(
                filters, limit=None, page_size=min(limit or PAGE_SIZE, PAGE_SIZE)
            )
        else:
            found = client.list_tasks(
                filters, limit=limit or DEFAULT_LIST_LIMIT, page_size=PAGE_SIZE
            )
        list_names = None
        if not json_output and len({task.get("list_id") for task in found.tasks}) > 1:
            # Tasks of several lists: a column says which list each is in.
            lists = lists or client.list_lists()
            list_names = {str(item.get("id")): str(item.get("name", "")) for item in lists}
    if json_output:
        render.print_json(found.tasks)
        return
    if not found.tasks:
        render.print_note("No tasks.")
        return
    from todo_cli.tree import nested

    render.print_task_table(nested(found.tasks), list_names=list_names)
    if found.total > len(found.tasks):
        render.print_note(
            f"Showing {len(found.tasks)} of {found.total} tasks: --all for every one."
        )


@click.command(epilog=examples("todo show 3f2a", "todo show 3f2a --json"))
@task_id_argument
@service_options
def show(task_id: str, server: str | None, json_output: bool) -> None:
    """Show one task in full: status, priority, due date, tags, times and description."""
    from todo_cli.lookup import find_task

    with service(server) as client:
        task = client.get_task(find_task(client, task_id).id)
    if json_output:
        render.print_json(task)
    else:
        render.print_task(task)


@click.command(epilog=examples("todo done 3f2a"))
@task_id_argument
@service_options
def done(task_id: str, server: str | None, json_output: bool) -> None:
    """Mark a task done (again: it stays done). A recurring task moves to its next due
    date instead, and stays open; the new date is printed.

    Retried like `todo add` when the connection is lost or the service is briefly unavailable.
    """
    _set_completed(task_id, True, server, json_output)


@click.command(epilog=examples("todo undo 3f2a"))
@task_id_argument
@service_options
def undo(task_id: str, server: str | None, json_output: bool) -> None:
    """Mark a task not done.

    Retried like `todo add` when the connection is lost or the service is briefly unavailable.
    """
    _set_completed(task_id, False, server, json_output)


@click.command(
    epilog=examples(
        "todo edit 3f2a --title 'Buy oat milk' -p low",
        "todo edit 3f2a --due tomorrow -t errands --untag home",
        "todo edit 3f2a --no-due -d ''",
        "todo edit 3f2a --every FREQ=MONTHLY --tz Europe/Berlin",
        "todo edit 3f2a --no-repeat",
    )
)
@task_id_argument
@click.option("--title", metavar="TITLE", help="A new title.")
@click.option("-d", "--description", metavar="TEXT", help="New details ('' removes them).")
@priority_option
@due_option
@click.option("--no-due", is_flag=True, help="Remove the due date.")
@click.option("-t", "--tag", "tags", multiple=True, metavar="TAG", help="Add a tag (repeatable).")
@click.option("--untag", "untags", multiple=True, metavar="TAG", help="Remove a tag (repeatable).")
@every_option
@tz_option
@click.option("--no-repeat", is_flag=True, help="Stop repeating.")
@service_options
def edit(
    task_id: str,
    title: str | None,
    description: str | None,
    priority: str | None,
    due: datetime | None,
    no_due: bool,
    tags: tuple[str, ...],
    untags: tuple[str, ...],
    every: str | None,
    time_zone: str | None,
    no_repeat: bool,
    server: str | None,
    json_output: bool,
) -> None:
    """Change a task's title, description, priority, due date, tags or repetition.

    Only what is given changes. Tags are added to and removed from the task's current ones;
    if the task changes on the service in between, nothing is overwritten and the command
    fails (run it again).
    """
    if due is not None and no_due:
        raise click.UsageError("--due and --no-due cannot be used together")
    fields: dict[str, Any] = {}
    if title is not None:
        fields["title"] = title
    if description is not None:
        fields["description"] = description or None
    if priority is not None:
        fields["priority"] = priority.lower()
    if due is not None:
        fields["due_at"] = to_rfc3339(due)
    if no_due:
        fields["due_at"] = None
    from todo_cli import recurrence

    recurrence.check_options(every, time_zone, no_repeat=no_repeat)
    if every is not None or no_repeat:
        fields["recurrence"] = None if no_repeat else recurrence.recurrence(every or "", time_zone)
    if not fields and not tags and not untags:
        raise click.UsageError(
            "nothing to change: give --title, -d, -p, --due, --no-due, -t, --untag, --every "
            "or --no-repeat"
        )
    from todo_cli.lookup import find_task

    with service(server) as client:
        found = find_task(client, task_id)
        if_match = None
        if tags or untags:
            current = found.task or client.get_task(found.id)
            fields["tags"] = edited_tags(current.get("tags") or [], tags, untags)
            # The new list was computed from this version of the task: the write must not land
            # on a newer one (412 instead), or someone else's tag change would be lost.
            if_match = current.get("etag")
        task = client.update_task(found.id, fields, if_match=if_match)
    _print_task_result("Updated", task, json_output)


@click.command(epilog=examples("todo rm 3f2a", "todo rm 3f2a --yes"))
@task_id_argument
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@service_options
def rm(task_id: str, yes: bool, server: str | None, json_output: bool) -> None:
    """Delete a task for good.

    On a terminal, asks first (the task's id and title) unless --yes is given; elsewhere, a
    script, --yes is required. With --json nothing is printed: the API answers a deletion
    without a body.
    """
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("no terminal to confirm the deletion on: add --yes")
    from todo_cli.lookup import find_task

    with service(server) as client:
        found = find_task(client, task_id)
        task = found.task
        if not yes:
            # The question names the task: by its title, not only the id that was typed.
            task = task or client.get_task(found.id)
            question = render.confirmation("Delete", task) + "?"
            if not click.confirm(question, default=False, err=True):
                raise DeclinedError("nothing deleted")
        client.delete_task(found.id)
    if not json_output:
        render.print_line(render.confirmation("Deleted", task or {"id": found.id}))


def _set_completed(task_id: str, completed: bool, server: str | None, json_output: bool) -> None:
    from todo_cli.lookup import find_task

    with service(server) as client:
        found = find_task(client, task_id)
        # An explicit value, not the toggle: sent twice (a retry), it still means "done".
        task = client.update_task(found.id, {"completed": completed}, idempotency_key=True)
    _print_task_result("Completed" if completed else "Reopened", task, json_output)
    from todo_cli.recurrence import next_due_line

    if completed and not json_output and (line := next_due_line(task)):
        # A recurring task stays open, moved to its next occurrence.
        render.print_line(line)


def edited_tags(current: list[str], added: tuple[str, ...], removed: tuple[str, ...]) -> list[str]:
    # Compared as the service keeps tags: trimmed and lower-cased.
    dropped = {tag.strip().lower() for tag in removed}
    kept = [tag for tag in current if tag not in dropped]
    return kept + [tag for tag in added if tag.strip().lower() not in kept]


def _print_task_result(verb: str, task: Task, json_output: bool) -> None:
    if json_output:
        render.print_json(task)
    else:
        render.print_line(render.confirmation(verb, task))
