"""`todo --due WHEN`: what people type, read in their local time zone; and the client
package's independence from the server's code."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from todo_cli.due import parse_due, to_rfc3339
from todo_cli.errors import InvalidInputError


@pytest.fixture(autouse=True)
def in_paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        # A date is the end of that day, at the offset in force on that day.
        ("2026-12-01", "2026-12-01T23:59:59+01:00"),
        ("2026-07-01", "2026-07-01T23:59:59+02:00"),
        ("today", "2026-03-28T23:59:59+01:00"),
        ("Tomorrow", "2026-03-29T23:59:59+02:00"),  # the day the clocks go forward
        # A date-time keeps its own offset; without one it is local time.
        ("2026-12-01T17:00:00Z", "2026-12-01T17:00:00+00:00"),
        ("2026-12-01T17:00:00-05:00", "2026-12-01T17:00:00-05:00"),
        ("2026-12-01T17:00", "2026-12-01T17:00:00+01:00"),
        ("2026-12-01 09:30", "2026-12-01T09:30:00+01:00"),
    ],
)
def test_due_is_read_in_local_time(typed: str, sent: str) -> None:
    now = datetime(2026, 3, 28, 15, 0)
    assert to_rfc3339(parse_due(typed, now=now)) == sent


@pytest.mark.parametrize("typed", ["someday", "2026-13-01", "next week", "", "12/01/2026"])
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInputError, match="RFC 3339"):
        parse_due(typed)


def test_the_client_package_never_imports_the_server() -> None:
    # It is a distribution of its own (client/), installed without the server: it talks to
    # the service over HTTP only.
    code = (
        "import sys, todo_cli.main, todo_cli.client, todo_cli.lookup;"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('todo_api', 'fastapi', 'sqlalchemy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
