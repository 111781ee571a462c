"""A task as an iCalendar VTODO and back, with the `icalendar` library.

Reading (PUT): the client's text must be one VCALENDAR holding one VTODO (VTIMEZONEs
beside it are fine) with a UID; each entry of `MAPPINGS` reads its task fields from it.

Writing (GET, reports): a task made through the REST API is written from its row. A task a
client stored keeps the client's text: its lines pass through untouched except the mapped
properties of the top-level VTODO, and each of those is kept as the client wrote it when it
still means the task's current value (tags differing only in case, a date-only DUE, a
PRIORITY of 3 for "high", a DUE in the client's time zone), else written from the row. So
a REST edit changes only what it maps, and alarms, DTSTART and X- properties come back as
sent. Only the mapped lines are parsed on the way out: a multiget of thousands of tasks
reads each stored text once, line by line.

`MAPPINGS` is the table of what maps to what: a new task field (a parent, a recurrence)
is one more entry, reading its field from the VTODO and writing its properties.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from icalendar import Calendar, Component, Todo, vCategory, vDDDTypes, vInt, vText
from icalendar.parser import Contentline, Contentlines, Parameters

from todo_api.tasks.schemas import normalise_tag

PRODID = "-//todo-api//CalDAV//EN"
# A VTODO without a SUMMARY still makes a task, which needs a title; the placeholder is
# never written back to a client that sent no SUMMARY.
UNTITLED = "Untitled"
# Components a calendar object may hold beside its one VTODO.
_COMPANIONS = frozenset({"VTIMEZONE"})
# PRIORITY values the service writes for each priority, and how RFC 5545's 1-9 read.
_WRITTEN_PRIORITY = {"high": 1, "medium": 5, "low": 9}


class CalendarDataError(ValueError):
    """A body that is no acceptable calendar object; `condition` names the RFC 4791
    precondition it breaks (`valid-calendar-data`, `supported-calendar-component`,
    `valid-calendar-object-resource`)."""

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition


@dataclass(frozen=True, slots=True)
class ParsedTodo:
    uid: str
    fields: dict[str, Any]


# --- the mapping table ------------------------------------------------------------------

Fields = dict[str, Any]
Task = Mapping[str, Any]


def _text(todo: Component, name: str) -> str | None:
    value = todo.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0]
    return str(value)


def _read_title(todo: Component) -> Fields:
    title = (_text(todo, "SUMMARY") or "").strip()
    return {"title": title or UNTITLED}


def _write_title(task: Task, _todo: Component | None = None) -> list[Contentline]:
    return [_line("SUMMARY", vText(task["title"]))]


def _read_description(todo: Component) -> Fields:
    return {"description": _text(todo, "DESCRIPTION")}


def _write_description(task: Task, _todo: Component | None = None) -> list[Contentline]:
    description = task["description"]
    return [] if description is None else [_line("DESCRIPTION", vText(description))]


def _read_completion(todo: Component) -> Fields:
    status = (_text(todo, "STATUS") or "").upper()
    completed = status == "COMPLETED" or (not status and "COMPLETED" in todo)
    return {"completed": completed}


def _write_completion(task: Task, _todo: Component | None = None) -> list[Contentline]:
    if not task["completed"]:
        return [_line("STATUS", vText("NEEDS-ACTION"))]
    lines = [_line("STATUS", vText("COMPLETED"))]
    if task.get("completed_at") is not None:
        lines.append(_line("COMPLETED", vDDDTypes(_utc(task["completed_at"]))))
    return lines


def _read_priority(todo: Component) -> Fields:
    value = todo.get("PRIORITY")
    if value is None:
        return {"priority": "none"}
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CalendarDataError("valid-calendar-data", "PRIORITY must be 0 to 9.") from None
    if not 0 <= number <= 9:
        raise CalendarDataError("valid-calendar-data", "PRIORITY must be 0 to 9.")
    level = "none" if number == 0 else "high" if number <= 4 else "medium" if number == 5 else "low"
    return {"priority": level}


def _write_priority(task: Task, _todo: Component | None = None) -> list[Contentline]:
    number = _WRITTEN_PRIORITY.get(task["priority"])
    return [] if number is None else [_line("PRIORITY", vInt(number))]


def _read_due(todo: Component) -> Fields:
    value = todo.get("DUE")
    if value is None:
        return {"due_at": None}
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        # A floating time (no zone) is read as UTC: the service keeps instants.
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return {"due_at": aware.astimezone(UTC)}
    if isinstance(moment, date):
        return {"due_at": datetime.combine(moment, time(), UTC)}
    raise CalendarDataError("valid-calendar-data", "DUE must be a date or a date-time.")


def _write_due(task: Task, todo: Component | None = None) -> list[Contentline]:
    due = task["due_at"]
    if due is None:
        return []
    due = _utc(due)
    sent = None if todo is None else getattr(todo.get("DUE"), "dt", None)
    if isinstance(sent, date) and not isinstance(sent, datetime) and due.time() == time():
        # A date-only DUE stays date-only while the task is due at midnight UTC.
        return [_line("DUE", vDDDTypes(due.date()))]
    return [_line("DUE", vDDDTypes(due))]


def _read_tags(todo: Component) -> Fields:
    value = todo.get("CATEGORIES")
    groups = value if isinstance(value, list) else [] if value is None else [value]
    tags: list[str] = []
    for group in groups:
        tags.extend(str(category) for category in getattr(group, "cats", []))
    return {"tags": tags}


def _write_tags(task: Task, _todo: Component | None = None) -> list[Contentline]:
    tags = task["tags"]
    return [_line("CATEGORIES", vCategory(list(tags)))] if tags else []


def _same_tags(client: Fields, task: Task) -> bool:
    try:
        normalised = list(dict.fromkeys(normalise_tag(tag) for tag in client["tags"]))
    except ValueError:
        return False
    return normalised == list(task["tags"])


@dataclass(frozen=True, slots=True)
class PropertyMapping:
    """Task fields and the VTODO properties that carry them."""

    properties: frozenset[str]
    # The task fields it reads and writes.
    fields: tuple[str, ...]
    read: Callable[[Component], Fields]
    write: Callable[[Task, Component | None], list[Contentline]]
    # Whether what the client wrote still means the task's value (default: the fields read
    # equal the task's).
    same: Callable[[Fields, Task], bool] | None = None

    def still_current(self, client: Fields, task: Task) -> bool:
        if self.same is not None:
            return self.same(client, task)
        return all(task.get(name) == value for name, value in client.items())


def _same_title(client: Fields, task: Task) -> bool:
    return bool(client["title"] == task["title"])


MAPPINGS: tuple[PropertyMapping, ...] = (
    PropertyMapping(frozenset({"SUMMARY"}), ("title",), _read_title, _write_title, _same_title),
    PropertyMapping(
        frozenset({"DESCRIPTION"}), ("description",), _read_description, _write_description
    ),
    PropertyMapping(
        frozenset({"STATUS", "COMPLETED"}), ("completed",), _read_completion, _write_completion
    ),
    PropertyMapping(frozenset({"PRIORITY"}), ("priority",), _read_priority, _write_priority),
    PropertyMapping(frozenset({"DUE"}), ("due_at",), _read_due, _write_due),
    PropertyMapping(frozenset({"CATEGORIES"}), ("tags",), _read_tags, _write_tags, _same_tags),
)
MAPPED = frozenset().union(*(mapping.properties for mapping in MAPPINGS))
MAPPED_FIELDS = tuple(name for mapping in MAPPINGS for name in mapping.fields)


def fingerprint(task: Mapping[str, Any]) -> str:
    """The mapped fields of a task as JSON: stored with a client's text, then compared with
    the task's current fields to tell whether any other front door changed them since."""
    return orjson.dumps([task[name] for name in MAPPED_FIELDS], option=orjson.OPT_UTC_Z).decode()


# Written from the row every time: they describe the task, not what a client asked for.
_STAMPS = frozenset({"LAST-MODIFIED", "CREATED", "DTSTAMP"})


# --- reading a PUT --------------------------------------------------------------------


def parse_todo(text: str) -> ParsedTodo:
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise CalendarDataError("valid-calendar-data", "The body is not iCalendar.") from error
    if len(calendars) != 1 or calendars[0].name != "VCALENDAR":
        raise CalendarDataError("valid-calendar-data", "The body must be one VCALENDAR.")
    components = [item for item in calendars[0].subcomponents if item.name not in _COMPANIONS]
    if any(item.name != "VTODO" for item in components):
        raise CalendarDataError(
            "supported-calendar-component", "A task list holds VTODO components only."
        )
    if len(components) != 1:
        raise CalendarDataError(
            "valid-calendar-object-resource", "A task is one VCALENDAR with one VTODO."
        )
    todo = components[0]
    uid = (_text(todo, "UID") or "").strip()
    if not uid:
        raise CalendarDataError("valid-calendar-object-resource", "The VTODO needs a UID.")
    fields: Fields = {}
    for mapping in MAPPINGS:
        fields.update(mapping.read(todo))
    return ParsedTodo(uid=uid, fields=fields)


# --- writing ----------------------------------------------------------------------------


def _line(name: str, value: Any) -> Contentline:
    params: Parameters = getattr(value, "params", None) or Parameters()
    line: Contentline = Contentline.from_parts(name, params, value)
    return line


def _raw(text: str) -> Contentline:
    return Contentline(text)  # type: ignore[no-untyped-call]


def _joined(lines: list[Contentline]) -> str:
    # Folded at 75 octets (only the lines that need it: folding every line cost a tenth of
    # a multiget), CRLF after each line.
    return "".join(
        f"{line}\r\n" if len(line) <= 75 and line.isascii() else _folded(line) for line in lines
    )


def _folded(line: Contentline) -> str:
    text: bytes = line.to_ical()  # type: ignore[no-untyped-call]
    return text.decode() + "\r\n"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _stamps(task: Task) -> list[Contentline]:
    # Written with strftime rather than through vDDDTypes: three per task in every answer,
    # and the library's time zone look-ups made them a quarter of a multiget's time.
    updated = f"{_utc(task['updated_at']):%Y%m%dT%H%M%SZ}"
    created = f"{_utc(task['created_at']):%Y%m%dT%H%M%SZ}"
    return [
        _raw(f"DTSTAMP:{updated}"),
        _raw(f"CREATED:{created}"),
        _raw(f"LAST-MODIFIED:{updated}"),
    ]


def render(task: Task, uid: str, stored: str | None, stored_fields: str | None = None) -> str:
    """The VCALENDAR of a task (`task`: its fields as a task response has them); `stored`:
    the text a client sent, with `stored_fields`, the task's `fingerprint` as it set it."""
    if stored is not None and stored_fields == fingerprint(task):
        # Nothing changed the mapped fields since the client sent this text: it stands as
        # sent, with only the stamps renewed (measured: 40x faster than parsing it).
        return _restamped(task, stored)
    if stored is None:
        lines = [
            _raw("BEGIN:VCALENDAR"),
            _raw("VERSION:2.0"),
            _line("PRODID", vText(PRODID)),
            _raw("BEGIN:VTODO"),
            _line("UID", vText(uid)),
            *_stamps(task),
        ]
        for mapping in MAPPINGS:
            lines.extend(mapping.write(task, None))
        lines += [_raw("END:VTODO"), _raw("END:VCALENDAR")]
        return _joined(lines)
    return _overlay(task, stored)


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
    return _joined([*kept[:insert_at], *written, *kept[insert_at:]])


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
