"""`todo register`, `login`, `logout` and `whoami`: the account and the token kept for it."""

from __future__ import annotations

import sys
from typing import Any

import click

from todo_cli import config, render
from todo_cli.commands.options import examples, service, service_options
from todo_cli.errors import InvalidInputError


@click.command(
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


@click.command(
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


@click.command(epilog=examples("todo logout"))
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


@click.command(epilog=examples("todo whoami", "todo whoami --json"))
@service_options
def whoami(server: str | None, json_output: bool) -> None:
    """Print the account the saved token belongs to, and its server."""
    with service(server) as client:
        account = client.me()
    if json_output:
        render.print_json(account)
    else:
        render.print_line(f"{_account_name(account)} on {client.server}")


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
