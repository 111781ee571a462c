"""The text/event-stream format of `GET /events`, read line by line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerEvent:
    name: str
    id: str | None
    data: str


def server_events(lines: Iterator[str]) -> Iterator[ServerEvent]:
    """Events of the text/event-stream format (the parts this service sends: `event`, `id`,
    one `data` line, comments)."""
    name, event_id, data = "message", None, None
    for line in lines:
        if not line:
            if data is not None:
                yield ServerEvent(name, event_id, data)
            name, event_id, data = "message", None, None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data = value if data is None else f"{data}\n{value}"
