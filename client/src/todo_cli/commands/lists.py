"""`todo lists` and its `add`, `rename` and `rm`: the lists tasks are kept in."""

from __future__ import annotations

import sys

import click

from todo_cli import render
from todo_cli.commands.options import (
    CommandsInOrder,
    examples,
    list_name_argument,
    service,
    service_options,
)
from todo_cli.errors import DeclinedError


@click.group(
    name="lists",
    cls=CommandsInOrder,
    invoke_without_command=True,
    epilog=examples(
        "todo lists",
        "todo lists add Groceries",
        'todo lists rename groceries "Food shop"',
        'todo lists rm "Food shop" --yes',
        "todo lists --json",
    ),
)
@service_options
@click.pass_context
def lists(ctx: click.Context, server: str | None, json_output: bool) -> None:
    """Your task lists, with how many open tasks and tasks in all each one holds.

    The default list, marked *, is where `todo add` puts a task without --list; it can be
    renamed, not removed. A list is named, here and in --list, by its name in any case.
    With --json, the API's array of lists.
    """
    if ctx.invoked_subcommand is not None:
        return
    with service(server) as client:
        found = client.list_lists()
        if json_output:
            render.print_json(found)
            return
        counts = [
            (
                client.count_tasks({"list_id": item["id"], "completed": "false"}),
                client.count_tasks({"list_id": item["id"]}),
            )
            for item in found
        ]
    render.print_list_table(found, counts)


@lists.command(name="add", epilog=examples("todo lists add Groceries", 'todo lists add "Work"'))
@list_name_argument
@service_options
def add_list(name: str, server: str | None, json_output: bool) -> None:
    """Make a list named NAME (1 to 100 characters, unique among yours ignoring case).

    Retried like `todo add`, without ever making the list twice.
    """
    with service(server) as client:
        made = client.create_list(name)
    if json_output:
        render.print_json(made)
    else:
        render.print_line(f"Added list {made.get('name', name)}")


@lists.command(
    name="rename",
    epilog=examples('todo lists rename groceries "Food shop"', "todo lists rename Tasks Inbox"),
)
@list_name_argument
@click.argument("new_name", metavar="NEW")
@service_options
def rename_list(name: str, new_name: str, server: str | None, json_output: bool) -> None:
    """Rename the list NAME to NEW (the default list too)."""
    from todo_cli.lookup import find_list

    with service(server) as client:
        found = find_list(client.list_lists(), name)
        renamed = client.rename_list(str(found["id"]), new_name)
    if json_output:
        render.print_json(renamed)
    else:
        render.print_line(f"Renamed list {found.get('name')} to {renamed.get('name', new_name)}")


@lists.command(
    name="rm", epilog=examples("todo lists rm Groceries", "todo lists rm Groceries --yes")
)
@list_name_argument
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@service_options
def remove_list(name: str, yes: bool, server: str | None, json_output: bool) -> None:
    """Delete the list NAME and every task in it, for good.

    On a terminal, asks first (the list and how many tasks go with it) unless --yes is given;
    elsewhere, a script, --yes is required. The default list cannot be deleted.
    """
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("no terminal to confirm the deletion on: add --yes")
    from todo_cli.lookup import find_list

    with service(server) as client:
        found = find_list(client.list_lists(), name)
        list_id = str(found["id"])
        if not yes:
            count = client.count_tasks({"list_id": list_id})
            question = f"Delete list {found.get('name')} and its {_tasks(count)}?"
            if not click.confirm(question, default=False, err=True):
                raise DeclinedError("nothing deleted")
        client.delete_list(list_id)
    if not json_output:
        render.print_line(f"Deleted list {found.get('name')}")


def _tasks(count: int) -> str:
    return "1 task" if count == 1 else f"{count} tasks"
