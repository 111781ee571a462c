"""What several commands share: the --server and --json options, the arguments and options
that take a task or a list, the help layout, and the service client those options lead to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from todo_cli import config
from todo_cli.due import DUE_HELP, parse_due
from todo_cli.errors import InvalidInputError

if TYPE_CHECKING:
    from todo_cli.client import TodoClient

PRIORITIES = ("none", "low", "medium", "high")

Command = TypeVar("Command", bound=Callable[..., Any])


class Due(click.ParamType[datetime]):
    name = "when"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_due(str(value))
        except InvalidInputError:
            self.fail(f"{value!r}: expected {DUE_HELP}", param, ctx)


def examples(*lines: str) -> str:
    """An epilog that Click prints as written (\b stops it from re-wrapping the lines)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def service_options(command: Command) -> Command:
    """--server and --json, which every command takes."""
    command = click.option(
        "--json",
        "json_output",
        is_flag=True,
        help="Print the API's JSON instead.",
    )(command)
    return click.option(
        "--server",
        metavar="URL",
        help="The service's URL [default: $TODO_SERVER, else the one saved by login, "
        f"else {config.DEFAULT_SERVER}].",
    )(command)


task_id_argument = click.argument("task_id", metavar="ID")
priority_option = click.option(
    "-p",
    "--priority",
    type=click.Choice(PRIORITIES, case_sensitive=False),
    help="none, low, medium or high.",
)
due_option = click.option("--due", type=Due(), metavar="WHEN", help=f"Due {DUE_HELP}.")
list_name_argument = click.argument("name", metavar="NAME")


class CommandsInOrder(click.Group):
    """Help lists the commands in the order a new user meets them, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@contextmanager
def service(server: str | None) -> Iterator[TodoClient]:
    from todo_cli.client import TodoClient

    credentials = config.load_credentials()
    url = config.resolve_server(server, credentials)
    debug = bool(click.get_current_context().find_root().params.get("debug"))
    with TodoClient(url, credentials.token_for(url), debug=debug) as client:
        yield client
