"""`todo app-password create | list | rm`: passwords for calendar and reminder apps, which
sign in to the service's CalDAV address with a user name and a password."""

from __future__ import annotations

from typing import Any

import click

from todo_cli import render
from todo_cli.commands.options import CommandsInOrder, examples, service, service_options
from todo_cli.errors import CliError, InvalidInputError

# A password's id as people type it: the full id or a unique prefix of this many characters.
MIN_PREFIX = 4


@click.group(
    name="app-password",
    cls=CommandsInOrder,
    epilog=examples(
        'todo app-password create "iPhone Reminders"',
        "todo app-password list",
        "todo app-password rm 0b6f",
    ),
)
def app_password() -> None:
    """Passwords for calendar and reminder apps (CalDAV): Apple Reminders, Thunderbird,
    DAVx5 and tasks.org, vdirsyncer. One per app, so that each can be revoked alone.

    An app password works only for the CalDAV address, never for `todo` or the API.
    """


@app_password.command(
    name="create",
    epilog=examples('todo app-password create "iPhone Reminders"', "todo app-password create mac"),
)
@click.argument("name", metavar="NAME")
@service_options
def create(name: str, server: str | None, json_output: bool) -> None:
    """Make an app password named NAME (what it is for), and print what to type into the
    calendar app: the CalDAV address, the user name and the password.

    The password is shown this once; the service keeps only a hash. Sent once, never
    retried: a retry could make a second password whose answer was lost.
    """
    with service(server) as client:
        made = client.create_app_password(name)
        address = client.server.rstrip("/") + "/dav/"
    if json_output:
        render.print_json(made)
        return
    render.print_line(
        "\n".join(
            [
                f"Created app password {made.get('name', name)!r}"
                f" (id {render.short_id(str(made.get('id', '')))}).",
                "Type these into the calendar app's CalDAV account; the password is not shown",
                "again (revoke it with `todo app-password rm` and make another if it is lost).",
                "",
                f"  Server:    {address}",
                f"  User name: {made.get('username', '')}",
                f"  Password:  {made.get('password', '')}",
            ]
        )
    )


@app_password.command(
    name="list", epilog=examples("todo app-password list", "todo app-password list --json")
)
@service_options
def list_app_passwords(server: str | None, json_output: bool) -> None:
    """Your app passwords, oldest first, with when each was last used (never the passwords).

    With --json, the API's array of app passwords.
    """
    with service(server) as client:
        found = client.list_app_passwords()
    if json_output:
        render.print_json(found)
    else:
        render.print_app_password_table(found)


@app_password.command(
    name="rm", epilog=examples("todo app-password rm 0b6f1c52", "todo app-password rm 0b6f")
)
@click.argument("password_id", metavar="ID")
@service_options
def remove(password_id: str, server: str | None, json_output: bool) -> None:
    """Revoke the app password ID (its full id, or a unique prefix of 4 or more characters,
    as `todo app-password list` shows it). The app that used it is signed out at once."""
    with service(server) as client:
        found = _find(client.list_app_passwords(), password_id)
        client.delete_app_password(str(found["id"]))
    if not json_output:
        render.print_line(
            f"Revoked app password {found.get('name')!r} (id {render.short_id(str(found['id']))})"
        )


def _find(passwords: list[dict[str, Any]], text: str) -> dict[str, Any]:
    given = text.strip().lower()
    if len(given) < MIN_PREFIX:
        raise InvalidInputError(f"an id prefix needs at least {MIN_PREFIX} characters: {text!r}")
    matches = [item for item in passwords if str(item.get("id", "")).lower().startswith(given)]
    if not matches:
        raise CliError(f"no app password has an id starting with {text.strip()!r}")
    if len(matches) > 1:
        lines = [f"{text.strip()!r} matches {len(matches)} app passwords; give more of the id:"]
        lines += [f"  {item['id']}  {item.get('name', '')}" for item in matches]
        raise CliError("\n".join(lines))
    return matches[0]
