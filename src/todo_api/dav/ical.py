"""A task as an iCalendar VTODO and back, with the `icalendar` library.

Reading (PUT): the client's text must be one VCALENDAR holding one VTODO (VTIMEZONEs
beside it are fine) with a UID; each entry of `MAPPINGS` reads its task fields from it.

Writing: `calendar_text.py` lays a task's current fields over the text its client sent,
with the same table.

`MAPPINGS` is the table of what maps to what: a new task field (a parent, a recurrence)
is one more entry, reading its field from the VTODO and writing its properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from icalendar import Calendar, Component, vCategory, vDDDTypes, vInt, vText
from icalendar.parser import Contentline, Parameters

from todo_api.tasks.schemas import normalise_tag

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


# --- content lines -------------------------------------------------------------------


def content_line(name: str, value: Any) -> Contentline:
    params: Parameters = getattr(value, "params", None) or Parameters()
    line: Contentline = Contentline.from_parts(name, params, value)
    return line


def raw_line(text: str) -> Contentline:
    return Contentline(text)  # type: ignore[no-untyped-call]


def in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


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
    return [content_line("SUMMARY", vText(task["title"]))]


def _read_description(todo: Component) -> Fields:
    return {"description": _text(todo, "DESCRIPTION")}


def _write_description(task: Task, _todo: Component | None = None) -> list[Contentline]:
    description = task["description"]
    return [] if description is None else [content_line("DESCRIPTION", vText(description))]


def _read_completion(todo: Component) -> Fields:
    status = (_text(todo, "STATUS") or "").upper()
    completed = status == "COMPLETED" or (not status and "COMPLETED" in todo)
    return {"completed": completed}


def _write_completion(task: Task, _todo: Component | None = None) -> list[Contentline]:
    if not task["completed"]:
        return [content_line("STATUS", vText("NEEDS-ACTION"))]
    lines = [content_line("STATUS", vText("COMPLETED"))]
    if task.get("completed_at") is not None:
        lines.append(content_line("COMPLETED", vDDDTypes(in_utc(task["completed_at"]))))
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
    return [] if number is None else [content_line("PRIORITY", vInt(number))]


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
    due = in_utc(due)
    sent = None if todo is None else getattr(todo.get("DUE"), "dt", None)
    if isinstance(sent, date) and not isinstance(sent, datetime) and due.time() == time():
        # A date-only DUE stays date-only while the task is due at midnight UTC.
        return [content_line("DUE", vDDDTypes(due.date()))]
    return [content_line("DUE", vDDDTypes(due))]


def _read_tags(todo: Component) -> Fields:
    value = todo.get("CATEGORIES")
    groups = value if isinstance(value, list) else [] if value is None else [value]
    tags: list[str] = []
    for group in groups:
        tags.extend(str(category) for category in getattr(group, "cats", []))
    return {"tags": tags}


def _write_tags(task: Task, _todo: Component | None = None) -> list[Contentline]:
    tags = task["tags"]
    return [content_line("CATEGORIES", vCategory(list(tags)))] if tags else []


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
