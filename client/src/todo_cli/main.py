"""`todo`: the command group, its global options and the entry point.

The commands are in commands/, a module per subject (account, tasks, lists): each reads its
options, makes its calls to the service, prints the answer.

Built on Click rather than Typer: Typer 0.29 coerces every option through pydantic, which adds
~75 ms to each command that takes one (`todo list` went from ~175 ms to ~250 ms). Only what
every command needs is imported at start-up, here and in commands/; the HTTP client (httpx,
~80 ms) and the table (rich, ~25 ms) are imported by the commands that use them.
"""

from __future__ import annotations

import os
import sys

import click

from todo_cli import __version__
from todo_cli.commands import account, app_passwords, lists, placement, tasks, watch
from todo_cli.commands.options import CommandsInOrder, examples
from todo_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, CliError


@click.group(
    cls=CommandsInOrder,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "todo register --email ada@example.com",
        'todo add "Buy milk" -p high --due tomorrow -t home',
        "todo list --open --sort due_at",
        "todo done 3f2a",
        "todo lists add Groceries && todo add Oat milk --list groceries",
        "todo watch",
    )
    + "\n\n\b\nEnvironment:\n"
    "  TODO_SERVER      the service's URL when --server is not given\n"
    "  XDG_CONFIG_HOME  where todo/credentials.json is kept\n"
    "  NO_COLOR         any value turns colour off\n\n"
    "\b\nExit status:\n"
    "  0  success\n"
    "  1  the service refused, or cannot be reached; or `todo rm` or `todo lists rm` was\n"
    "     answered no\n"
    "  2  the command line is wrong",
)
@click.version_option(__version__, "--version", prog_name="todo", message="%(prog)s %(version)s")
@click.option(
    "--debug",
    is_flag=True,
    help="Print each HTTP request and response on standard error, for a bug report "
    "(the token and the password are never shown).",
)
def cli(debug: bool) -> None:
    """Your tasks, kept by a todo-api service and reachable from any machine.

    Log in once with `todo register` or `todo login`; then add, list, complete and edit tasks.
    Every command takes --json for the API's JSON and --server URL for another service. A
    task ID is its full id or a unique prefix of 4 or more characters.
    """


# In the order a new user meets them, which is the order help lists them in.
cli.add_command(account.register)
cli.add_command(account.login)
cli.add_command(account.logout)
cli.add_command(account.whoami)
cli.add_command(tasks.add)
cli.add_command(tasks.list_tasks)
cli.add_command(tasks.show)
cli.add_command(tasks.done)
cli.add_command(tasks.undo)
cli.add_command(tasks.edit)
cli.add_command(placement.move)
cli.add_command(tasks.rm)
cli.add_command(lists.lists)
cli.add_command(app_passwords.app_password)
cli.add_command(watch.watch)


def main() -> None:
    """Entry point: every failure ends as a message on standard error and an exit status,
    never a traceback, whatever the server or the network does."""
    try:
        result = cli.main(prog_name="todo", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort as error:
        # Ctrl-C anywhere, or end of input at a prompt.
        if isinstance(error.__cause__, KeyboardInterrupt):
            sys.exit(EXIT_INTERRUPTED)
        _fail("aborted", EXIT_FAILURE)
    except CliError as error:
        _fail(error.message, error.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`todo list | head`): nothing is left to say, and the flush of
        # standard output at exit must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILURE)
    except Exception as error:
        _fail(f"unexpected error ({type(error).__name__}): {error}", EXIT_FAILURE)
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    print(f"todo: {message}", file=sys.stderr)
    sys.exit(code)
