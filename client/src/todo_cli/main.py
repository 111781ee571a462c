"""The `todo` commands: each reads its options, makes its calls to the service, prints the answer.

Built on Click rather than Typer: Typer 0.29 coerces every option through pydantic, which adds
~75 ms to each command that takes one (`todo list` went from ~175 ms to ~250 ms). Only what
every command needs is imported here; the HTTP client (httpx, ~80 ms) and the table (rich,
~25 ms) are imported by the commands that use them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from todo_cli import __version__, config, render
from todo_cli.due import DUE_HELP, parse_due, to_rfc3339
from todo_cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    CliError,
    DeclinedError,
    InvalidInputError,
)

if TYPE_CHECKING:
    from todo_cli.client import Task, TodoClient

PRIORITIES = ("none", "low", "medium", "high")
SORT_KEYS = tuple(
    f"{direction}{key}"
    for key in ("created_at", "updated_at", "title", "due_at", "priority")
    for direction in ("", "-")
)
DEFAULT_SORT = "-created_at"
DEFAULT_LIST_LIMIT = 50

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


@click.group(
    cls=CommandsInOrder,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "todo register --email ada@example.com",
        'todo add "Buy milk" -p high --due tomorrow -t home',
        "todo list --open --sort due_at",
        "todo done 3f2a",
        "todo lists add Groceries && todo add Oat milk --list groceries",
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


@contextmanager
def service(server: str | None) -> Iterator[TodoClient]:
    from todo_cli.client import TodoClient

    credentials = config.load_credentials()
    url = config.resolve_server(server, credentials)
    debug = bool(click.get_current_context().find_root().params.get("debug"))
    with TodoClient(url, credentials.token_for(url), debug=debug) as client:
        yield client


# Accounts


@cli.command(
    epilog=examples(
        "todo register --email ada@example.com",
        "printf '%s\\n' \"$PASSWORD\" | todo register --email ada@example.com --password-stdin",
    )
)
@click.option("--email", required=True, metavar="EMAIL", help="Your email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@service_options
def register(email: str, password_stdin: bool, server: str | None, json_output: bool) -> None:
    """Create an account on the service and log in to it.

    The password (8 to 128 characters) is asked for twice without echo, or read from the first
    line of standard input with --password-stdin. The server is remembered as the default.
    """
    password = _read_password(password_stdin, confirm=True)
    with service(server) as client:
        account = client.register(email, password)
        _save_login(client.server, client.issue_token(email, password))
    if json_output:
        render.print_json(account)
    else:
        render.print_line(
            f"Registered {account.get('email', email)}; logged in to {client.server}."
        )


@cli.command(
    epilog=examples(
        "todo login --email ada@example.com",
        "todo login --email ada@example.com --server https://todo.example.com",
        "print-my-token | todo login --token-stdin",
    )
)
@click.option("--email", metavar="EMAIL", help="Your account's email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--token-stdin",
    is_flag=True,
    help="Read a token issued elsewhere (Better Auth, Auth0...) from standard input.",
)
@service_options
def login(
    email: str | None,
    password_stdin: bool,
    token_stdin: bool,
    server: str | None,
    json_output: bool,
) -> None:
    """Log in to the service and keep the token for the next commands.

    With --email, the password is asked for without echo (or read with --password-stdin) and
    exchanged for a token. With --token-stdin, a token from another sign-in service is checked
    with the service, then kept. The token is stored in the config folder in a file only you
    can read; the server is remembered as the default.
    """
    if token_stdin == (email is not None):
        raise click.UsageError("give either --email or --token-stdin")
    if token_stdin and password_stdin:
        raise click.UsageError("--password-stdin goes with --email, not with --token-stdin")
    with service(server) as client:
        if email is None:
            token = sys.stdin.read().strip()
            if not token:
                raise InvalidInputError("--token-stdin: standard input is empty")
        else:
            token = client.issue_token(email, _read_password(password_stdin, confirm=False))
        # Checked before it is kept: a mistyped or foreign token fails here, not later.
        client.use_token(token)
        account = client.me(new_login=True)
        _save_login(client.server, token)
    if json_output:
        render.print_json(account)
    else:
        render.print_line(f"Logged in to {client.server} as {_account_name(account)}.")


@cli.command(epilog=examples("todo logout"))
@service_options
def logout(server: str | None, json_output: bool) -> None:
    """Forget the token kept for the server (your tasks stay on the service)."""
    credentials = config.load_credentials()
    url = config.resolve_server(server, credentials)
    if credentials.tokens.pop(url, None) is None:
        render.print_note(f"Not logged in to {url}.")
        return
    config.save_credentials(credentials)
    if not json_output:
        render.print_line(f"Logged out of {url}.")


@cli.command(epilog=examples("todo whoami", "todo whoami --json"))
@service_options
def whoami(server: str | None, json_output: bool) -> None:
    """Print the account the saved token belongs to, and its server."""
    with service(server) as client:
        account = client.me()
    if json_output:
        render.print_json(account)
    else:
        render.print_line(f"{_account_name(account)} on {client.server}")


# Tasks


@cli.command(
    epilog=examples(
        "todo add Buy milk",
        'todo add "Send the report" -d "Q3 figures" -p high --due 2026-12-01 -t work',
        "todo add Call the bank --due 2026-12-01T09:30",
        "todo add Oat milk --list groceries",
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
@service_options
def add(
    title: tuple[str, ...],
    description: str | None,
    priority: str | None,
    due: datetime | None,
    tags: tuple[str, ...],
    list_name: str | None,
    server: str | None,
    json_output: bool,
) -> None:
    """Add a task.

    The words of TITLE are joined by spaces, so quotes are optional. The request carries an
    Idempotency-Key and is retried when the connection is lost or the service is briefly
    unavailable, without ever creating the task twice.
    """
    fields: dict[str, Any] = {"title": " ".join(title)}
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
        task = client.create_task(fields)
    _print_task_result("Added", task, json_output)


@cli.command(
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
    default=DEFAULT_SORT,
    show_default=True,
    metavar="KEY",
    help=f"One of {', '.join(SORT_KEYS)}.",
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
    sort: str,
    limit: int | None,
    every: bool,
    list_name: str | None,
    server: str | None,
    json_output: bool,
) -> None:
    """List your tasks, newest first.

    Columns: short id, done mark, priority, due date (red when overdue), the list when the
    tasks shown are in several lists, title, tags. With --json, the array of the tasks of
    every page fetched.
    """
    if open_only and done_only:
        raise click.UsageError("--open and --done cannot be used together")
    filters: dict[str, Any] = {"sort": sort}
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
    render.print_task_table(found.tasks, list_names=list_names)
    if found.total > len(found.tasks):
        render.print_note(
            f"Showing {len(found.tasks)} of {found.total} tasks: --all for every one."
        )


@cli.command(epilog=examples("todo show 3f2a", "todo show 3f2a --json"))
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


@cli.command(epilog=examples("todo done 3f2a"))
@task_id_argument
@service_options
def done(task_id: str, server: str | None, json_output: bool) -> None:
    """Mark a task done (again: it stays done).

    Retried like `todo add` when the connection is lost or the service is briefly unavailable.
    """
    _set_completed(task_id, True, server, json_output)


@cli.command(epilog=examples("todo undo 3f2a"))
@task_id_argument
@service_options
def undo(task_id: str, server: str | None, json_output: bool) -> None:
    """Mark a task not done.

    Retried like `todo add` when the connection is lost or the service is briefly unavailable.
    """
    _set_completed(task_id, False, server, json_output)


@cli.command(
    epilog=examples(
        "todo edit 3f2a --title 'Buy oat milk' -p low",
        "todo edit 3f2a --due tomorrow -t errands --untag home",
        "todo edit 3f2a --no-due -d ''",
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
    server: str | None,
    json_output: bool,
) -> None:
    """Change a task's title, description, priority, due date or tags.

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
    if not fields and not tags and not untags:
        raise click.UsageError(
            "nothing to change: give --title, -d, -p, --due, --no-due, -t or --untag"
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


@cli.command(epilog=examples("todo rm 3f2a", "todo rm 3f2a --yes"))
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


# Lists


@cli.group(
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


# What the commands above share


def _read_password(from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInputError("--password-stdin: standard input is empty")
        return line
    if not sys.stdin.isatty():
        raise InvalidInputError("no terminal to ask for the password on: use --password-stdin")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


def _save_login(server: str, token: str) -> None:
    credentials = config.load_credentials()
    credentials.server = server
    credentials.tokens[server] = token
    config.save_credentials(credentials)


def _account_name(account: dict[str, Any]) -> str:
    email, user_id = account.get("email"), account.get("id")
    return f"{email} ({user_id})" if email else str(user_id)


def _set_completed(task_id: str, completed: bool, server: str | None, json_output: bool) -> None:
    from todo_cli.lookup import find_task

    with service(server) as client:
        found = find_task(client, task_id)
        # An explicit value, not the toggle: sent twice (a retry), it still means "done".
        task = client.update_task(found.id, {"completed": completed}, idempotency_key=True)
    _print_task_result("Completed" if completed else "Reopened", task, json_output)


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
