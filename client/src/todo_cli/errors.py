"""Failures the user is told about in one line, and the exit status each one gives."""

from __future__ import annotations

EXIT_FAILURE = 1  # the service refused, or could not be reached
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class CliError(Exception):
    """A failure to report as `todo: <message>` on standard error."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(CliError):
    """Input that no server round trip could make right: a too short id prefix, a bad date."""

    exit_code = EXIT_USAGE


class DeclinedError(CliError):
    """The person answered no to a question such as `todo rm`'s: nothing was done."""
