"""A task as an iCalendar VTODO and back, with the `icalendar` library.

Reading (PUT): the client's text must be one VCALENDAR holding one VTODO (VTIMEZONEs
beside it are fine) with a UID; each entry of `MAPPINGS` reads its task fields from it.

Writing: `calendar_text.py` lays a task's current fields over the text its client sent,
with the same table.

`MAPPINGS` is the table of what maps to what: a new task field is one more entry, reading
its field from the VTODO and writing its properties. Two entries read more than one
property: `DUE` with `RRULE` (ical_schedule.py), and `RELATED-TO`, read as the parent's UID
(`parent_uid`), which the service resolves to a `parent_id` among the calendar's tasks; the
task a calendar text is written from carries its parent's UID the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from icalendar import Calendar, Component, vCategory, vDDDTypes, vInt, vText
from icalendar.parser import Contentline

from todo_api.dav.ical_schedule import read_schedule, same_schedule, write_schedule
from todo_api.dav.lines import CalendarDataError, content_line, in_utc, raw_line
from todo_api.tasks.tags import normalise_tag

__all__ = [
    "MAPPED",
    "MAPPINGS",
    "UNTITLED",
    "CalendarDataError",
    "ParsedTodo",
    "PropertyMapping",
    "Task",
    "content_line",
    "fingerprint",
    "in_utc",
    "parent_resolved_at_put",
    "parse_todo",
    "raw_line",
    "same_uid",
]

# A VTODO without a SUMMARY still makes a task, which needs a title; the placeholder is
# never written back to a client that sent no SUMMARY.
UNTITLED = "Untitled"
# Components a calendar object may hold beside its one VTODO.
_COMPANIONS = frozenset({"VTIMEZONE"})
# PRIORITY values the service writes for each priority, and how RFC 5545's 1-9 read.
_WRITTEN_PRIORITY = {"high": 1, "medium": 5, "low": 9}


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


def _read_parent(todo: Component) -> Fields:
    """The UID in `RELATED-TO;RELTYPE=PARENT` (no RELTYPE means PARENT, RFC 5545 3.2.15);
    the service resolves it among the calendar's tasks."""
    for value in _all(todo, "RELATED-TO"):
        if str(value.params.get("RELTYPE", "PARENT")).upper() == "PARENT":
            return {"parent_uid": str(value).strip() or None}
    return {"parent_uid": None}


def _write_parent(task: Task, todo: Component | None = None) -> list[Contentline]:
    # Relations other than the parent (SIBLING, CHILD, a client's own types) map to nothing
    # and stay as sent.
    lines = [
        content_line("RELATED-TO", value)
        for value in ([] if todo is None else _all(todo, "RELATED-TO"))
        if str(value.params.get("RELTYPE", "PARENT")).upper() != "PARENT"
    ]
    parent = task.get("parent_uid")
    if parent is not None:
        related = vText(parent)
        related.params["RELTYPE"] = "PARENT"
        lines.append(content_line("RELATED-TO", related))
    return lines


def _same_parent(client: Fields, task: Task) -> bool:
    sent, current = client["parent_uid"], task.get("parent_uid")
    if current is not None:
        return sent is not None and same_uid(sent, current)
    # No parent: a parent UID the calendar did not hold when the client sent it (a child
    # uploaded before its parent) is kept as sent; one the task has lost since is not.
    return sent is None or bool(task.get("parent_unresolved"))


def same_uid(sent: str, uid: str) -> bool:
    """Whether a client's UID names `uid`; a REST task's UID is its id, in any case."""
    if sent == uid:
        return True
    try:
        return uuid.UUID(sent) == uuid.UUID(uid)
    except ValueError:
        return False


def _all(todo: Component, name: str) -> list[Any]:
    value = todo.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]


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
    PropertyMapping(
        frozenset({"DUE", "RRULE"}),
        ("due_at", "recurrence"),
        read_schedule,
        write_schedule,
        same_schedule,
    ),
    PropertyMapping(frozenset({"CATEGORIES"}), ("tags",), _read_tags, _write_tags, _same_tags),
    PropertyMapping(
        frozenset({"RELATED-TO"}), ("parent_uid",), _read_parent, _write_parent, _same_parent
    ),
)
MAPPED = frozenset().union(*(mapping.properties for mapping in MAPPINGS))
# The task fields behind the mapped properties; a parent by its id (a row's parent UID is
# the parent's, which the task's own changes do not follow).
FINGERPRINT_FIELDS = (
    *(name for mapping in MAPPINGS for name in mapping.fields if name != "parent_uid"),
    "parent_id",
)


def fingerprint(task: Mapping[str, Any]) -> str:
    """The mapped fields of a task as JSON: stored with a client's text, then compared with
    the task's current fields to tell whether any other front door changed them since. The
    parent's id comes last (`parent_resolved_at_put`)."""
    values = [task[name] for name in FINGERPRINT_FIELDS]
    return orjson.dumps(values, option=orjson.OPT_UTC_Z | orjson.OPT_SORT_KEYS).decode()


def parent_resolved_at_put(stored_fields: str | None) -> bool:
    """Whether the client's text named a parent the task then got (a fingerprint from
    before parents were mapped names none)."""
    if not stored_fields:
        return False
    try:
        values = orjson.loads(stored_fields)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(values, list) or len(values) != len(FINGERPRINT_FIELDS):
        return False
    return isinstance(values[-1], str)


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
