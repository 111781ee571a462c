"""A task's VCALENDAR text, for GET and reports (the mapping itself: `ical.py`).

A task made through the REST API is written from its row. A task a client stored keeps
the client's text: its lines pass through untouched except the mapped properties of the
top-level VTODO, and each of those is kept as the client wrote it when it still means the
task's current value (tags differing only in case, a date-only DUE, a PRIORITY of 3 for
"high", a DUE in the client's time zone), else written from the row. So a REST edit changes
only what it maps, and alarms, DTSTART and X- properties come back as sent. A task no other
front door changed since its client's PUT (its `fingerprint` still matches) is the
client's text with only its stamps renewed, without parsing it at all.
"""

from __future__ import annotations

import re
from typing import Any

from icalendar import Component, Todo, vText
from icalendar.parser import Contentline, Contentlines

from todo_api.dav.ical import (
    MAPPED,
    MAPPINGS,
    UNTITLED,
    CalendarDataError,
    PropertyMapping,
    Task,
    content_line,
    fingerprint,
    in_utc,
    parent_resolved_at_put,
    raw_line,
)
from todo_api.dav.ical_schedule import time_zone_lines, zone_names

PRODID = "-//todo-api//CalDAV//EN"
# Written from the row every time: they describe the task, not what a client asked for.
_STAMPS = frozenset({"LAST-MODIFIED", "CREATED", "DTSTAMP"})


def _joined(lines: list[Contentline]) -> str:
    # Folded at 75 octets (only the lines that need it: folding every line cost a tenth of
    # a multiget), CRLF after each line.
    return "".join(
        f"{line}\r\n" if len(line) <= 75 and line.isascii() else _folded(line) for line in lines
    )


def _folded(line: Contentline) -> str:
    text: bytes = line.to_ical()  # type: ignore[no-untyped-call]
    return text.decode() + "\r\n"


def _stamps(task: Task) -> list[Contentline]:
    # Written with strftime rather than through vDDDTypes: three per task in every answer,
    # and the library's time zone look-ups made them a quarter of a multiget's time.
    updated = f"{in_utc(task['updated_at']):%Y%m%dT%H%M%SZ}"
    created = f"{in_utc(task['created_at']):%Y%m%dT%H%M%SZ}"
    return [
        raw_line(f"DTSTAMP:{updated}"),
        raw_line(f"CREATED:{created}"),
        raw_line(f"LAST-MODIFIED:{updated}"),
    ]


def render(task: Task, uid: str, stored: str | None, stored_fields: str | None = None) -> str:
    """The VCALENDAR of a task (`task`: its fields as a task response has them); `stored`:
    the text a client sent, with `stored_fields`, the task's `fingerprint` as it set it."""
    if stored is not None and stored_fields == fingerprint(task) and not _lacks_time_zone(stored):
        # Nothing changed the mapped fields since the client sent this text: it stands as
        # sent, with only the stamps renewed (measured: 40x faster than parsing it).
        return _restamped(task, stored)
    if stored is None:
        lines = [
            raw_line("BEGIN:VCALENDAR"),
            raw_line("VERSION:2.0"),
            content_line("PRODID", vText(PRODID)),
            raw_line("BEGIN:VTODO"),
            content_line("UID", vText(uid)),
            *_stamps(task),
        ]
        for mapping in MAPPINGS:
            lines.extend(mapping.write(task, None))
        lines += [raw_line("END:VTODO"), raw_line("END:VCALENDAR")]
        recurrence = task.get("recurrence")
        if recurrence is not None and recurrence["time_zone"] != "UTC":
            # The one TZID written from a row: a recurring task's DUE in its zone.
            lines = _with_time_zones(lines, task)
        return _joined(lines)
    # A parent UID the calendar did not hold at the PUT stays as sent while the task has
    # no parent (ical.py's `_same_parent`).
    unresolved = task.get("parent_uid") is None and not parent_resolved_at_put(stored_fields)
    return _overlay({**task, "parent_unresolved": unresolved}, stored)


def _lacks_time_zone(text: str) -> bool:
    # A TZID with no VTIMEZONE beside it (some clients rely on IANA names): written through
    # `_overlay`, which adds the VTIMEZONE RFC 5545 asks for.
    upper = text.upper()
    return "TZID=" in upper and "BEGIN:VTIMEZONE" not in upper


def _with_time_zones(lines: list[Contentline], task: Task) -> list[Contentline]:
    """The lines with a VTIMEZONE, before the VTODO, for each IANA zone a TZID names that
    no VTIMEZONE of the calendar defines."""
    used: list[str] = []
    defined: set[str] = set()
    todo_at: int | None = None
    for index, line in enumerate(lines):
        name = _name(line)
        if name == "TZID":
            defined.add(line.partition(":")[2].strip())
        elif name == "BEGIN" and todo_at is None and line[6:].strip().upper() == "VTODO":
            todo_at = index
        elif "TZID=" in line.upper():
            used.append(_tzid(line))
    missing = list(dict.fromkeys(z for z in used if z in zone_names() and z not in defined))
    if not missing or todo_at is None:
        return lines
    moment = task["due_at"] or task["updated_at"]
    added = [line for zone in missing for line in time_zone_lines(zone, moment)]
    return [*lines[:todo_at], *added, *lines[todo_at:]]


def _tzid(line: Contentline) -> str:
    try:
        _, params, _ = line.parts()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    value: Any = params.get("TZID", "")
    return str(value)


def _overlay(task: Task, stored: str) -> str:
    source: list[Contentline] = Contentlines.from_ical(stored)  # type: ignore[no-untyped-call]
    kept: list[Contentline] = []
    client: dict[str, list[Contentline]] = {}
    depth = 0
    in_todo = False
    insert_at: int | None = None
    for line in source:
        if not line:
            continue
        name = _name(line)
        if name == "BEGIN":
            depth += 1
            if depth == 2 and line[6:].strip().upper() == "VTODO":
                in_todo = True
            elif in_todo and insert_at is None:
                insert_at = len(kept)
        elif name == "END":
            if in_todo and depth == 2:
                in_todo = False
                if insert_at is None:
                    insert_at = len(kept)
            depth -= 1
        elif in_todo and depth == 2 and insert_at is None:
            if name in MAPPED:
                client.setdefault(name, []).append(line)
                continue
            if name in _STAMPS:
                continue
        kept.append(line)
    if insert_at is None:
        insert_at = len(kept)
    written = _stamps(task) + _mapped_lines(task, client)
    return _joined(_with_time_zones([*kept[:insert_at], *written, *kept[insert_at:]], task))


def _restamped(task: Task, stored: str) -> str:
    """The client's text with the VTODO's DTSTAMP, CREATED and LAST-MODIFIED written from
    the row; every other line as sent, folds included."""
    logical: list[str] = []
    for physical in stored.replace("\r\n", "\n").split("\n"):
        if physical[:1] in (" ", "\t") and logical:
            logical[-1] += "\r\n" + physical
        elif physical:
            logical.append(physical)
    kept: list[str] = []
    depth, in_todo, insert_at = 0, False, None
    for line in logical:
        name = _name(line)
        if name == "BEGIN":
            depth += 1
            if depth == 2 and line[6:].strip().upper() == "VTODO":
                in_todo = True
            elif in_todo and insert_at is None:
                insert_at = len(kept)
        elif name == "END":
            if in_todo and depth == 2:
                in_todo = False
                insert_at = len(kept) if insert_at is None else insert_at
            depth -= 1
        elif in_todo and depth == 2 and insert_at is None and name in _STAMPS:
            continue
        kept.append(line)
    position = len(kept) if insert_at is None else insert_at
    stamps = [str(line) for line in _stamps(task)]
    return "\r\n".join([*kept[:position], *stamps, *kept[position:], ""])


_PROPERTY_NAME = re.compile(r"[A-Za-z0-9-]*")


def _name(line: str) -> str:
    found = _PROPERTY_NAME.match(line)
    return found.group().upper() if found else ""


def _mapped_lines(task: Task, client: dict[str, list[Contentline]]) -> list[Contentline]:
    """Each mapping's lines: the client's own where they still mean the task's value."""
    todo: Component | None = None
    body = "".join(f"{line}\r\n" for lines in client.values() for line in lines)
    try:
        todo = Todo.from_ical(f"BEGIN:VTODO\r\n{body}END:VTODO\r\n")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        todo = None
    written: list[Contentline] = []
    for mapping in MAPPINGS:
        own = [line for name in sorted(mapping.properties) for line in client.get(name, [])]
        if todo is not None and own and _still_current(mapping, todo, task):
            written.extend(own)
        elif (mapping.properties == {"SUMMARY"} and not own and task["title"] == UNTITLED) or (
            todo is not None and not own and _still_current(mapping, todo, task)
        ):
            # Absent and still absent (no SUMMARY sent, no tags...): nothing to write.
            continue
        else:
            written.extend(mapping.write(task, todo))
    return written


def _still_current(mapping: PropertyMapping, todo: Component, task: Task) -> bool:
    try:
        return mapping.still_current(mapping.read(todo), task)
    except CalendarDataError:
        return False
