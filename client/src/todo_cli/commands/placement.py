"""`todo move`: a task placed among its siblings, under another parent, or in another list."""

from __future__ import annotations

from typing import Any

import click

from todo_cli import render
from todo_cli.commands.options import examples, service, service_options, task_id_argument


@click.command(
    epilog=examples(
        "todo move 3f2a --after 9c1e",
        "todo move 3f2a --first",
        "todo move 3f2a --parent 9c1e",
        "todo move 3f2a --top --list work",
    )
)
@task_id_argument
@click.option("--after", metavar="ID", help="Right after this sibling.")
@click.option("--first", is_flag=True, help="Before every sibling.")
@click.option("--parent", metavar="ID", help="As a subtask of this task.")
@click.option("--top", is_flag=True, help="As a task of its own (no parent).")
@click.option("--list", "list_name", metavar="NAME", help="Into this list, with its subtasks.")
@service_options
def move(
    task_id: str,
    after: str | None,
    first: bool,
    parent: str | None,
    top: bool,
    list_name: str | None,
    server: str | None,
    json_output: bool,
) -> None:
    """Move a task: reorder it, make it a subtask or a task of its own, or move it to
    another list (its subtasks go with it).

    Without --after or --first it goes after its last sibling. Retried like `todo add`
    when the connection is lost, without ever moving it twice.
    """
    if after is not None and first:
        raise click.UsageError("--after and --first cannot be used together")
    if parent is not None and top:
        raise click.UsageError("--parent and --top cannot be used together")
    from todo_cli.lookup import find_list, find_task

    with service(server) as client:
        moved = find_task(client, task_id).id
        placement: dict[str, Any] = {}
        if list_name is not None:
            placement["list_id"] = find_list(client.list_lists(), list_name)["id"]
        if parent is not None:
            placement["parent_id"] = find_task(client, parent).id
        elif top:
            placement["parent_id"] = None
        if after is not None:
            placement["after"] = find_task(client, after).id
        elif first:
            placement["after"] = None
        task = client.move_task(moved, placement)
    if json_output:
        render.print_json(task)
    else:
        render.print_line(render.confirmation("Moved", task))
