"""When a task is due and how it repeats: `DUE` and `RRULE` as one entry of the mapping
table (ical.py), since the recurrence's time zone is the `TZID` of `DUE`.

- `DUE` is `due_at`; a date-only `DUE` is 00:00 UTC of that date and stays date-only.
- `RRULE` beside a `DUE` is `recurrence` {rule: the RRULE value, time_zone: DUE's TZID
  (UTC when DUE has none, or names no IANA zone), from: "due"}. The RRULE anchors on `DUE`,
  as the contract's recurrence anchors on `due_at`.
- A rule the API does not take (FREQ=HOURLY, BYHOUR, two RRULEs, none without a DUE, no
  occurrence from DUE on) is not refused, which would stop the client's sync: the task is
  not recurring over REST, and the RRULE stays in the client's text, written back as sent.
- Writing: a recurring task's `DUE` is in its zone (`DUE;TZID=Europe/Berlin:...`), and the
  calendar then holds a VTIMEZONE for it (`time_zone_lines`) unless the client sent one.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from icalendar import Component, Timezone, vDDDTypes
from icalendar.parser import Contentline
from icalendar.prop.recur.recur import vRecur
from pydantic import ValidationError

from todo_api.dav.lines import CalendarDataError, content_line, in_utc, raw_line
from todo_api.tasks.occurrences import has_occurrence
from todo_api.tasks.recurrence import Recurrence

Fields = dict[str, Any]
# How many years of a zone's transitions a written VTIMEZONE covers from the year before
# the task's due date: clients read the DUE, and occurrences they expand, with it.
_ZONE_YEARS = 10


def _due(todo: Component) -> datetime | None:
    value = todo.get("DUE")
    if value is None:
        return None
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        # A floating time (no zone) is read as UTC: the service keeps instants.
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    if isinstance(moment, date):
        return datetime.combine(moment, time(), UTC)
    raise CalendarDataError("valid-calendar-data", "DUE must be a date or a date-time.")


def zone_of(due: Any) -> str:
    """The IANA zone a DUE is in: its TZID, or the zone icalendar resolved it to; UTC for a
    date, a UTC or floating time, or a zone of no IANA name (Outlook's names...)."""
    moment = getattr(due, "dt", None)
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        return "UTC"
    names = zone_names()
    tzid = str(getattr(due, "params", {}).get("TZID", ""))
    if tzid in names:
        return tzid
    key = getattr(moment.tzinfo, "key", None)
    return key if isinstance(key, str) and key in names else "UTC"


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def rule_text(recur: vRecur) -> str:
    """The RRULE value in the order the client gave its parts (icalendar's own `to_ical`
    reorders them, and the rule is returned as sent)."""
    parts = []
    for key, values in recur.items():
        kind = recur.types.get(key)
        items = values if isinstance(values, (list, tuple)) else [values]
        text = b",".join(kind(item).to_ical() for item in items) if kind else b""
        parts.append(f"{key}={text.decode()}")
    return ";".join(parts)


def _recurrence(todo: Component, due_at: datetime | None) -> Fields | None:
    value = todo.get("RRULE")
    if due_at is None or not isinstance(value, vRecur) or not value:
        return None
    try:
        rule = rule_text(value)
        recurrence = Recurrence.model_validate({"rule": rule, "time_zone": zone_of(todo["DUE"])})
    except (ValidationError, ValueError, TypeError, KeyError):
        return None
    try:
        if not has_occurrence(recurrence.rule, recurrence.time_zone, due_at):
            return None
    except (ValueError, OverflowError):
        return None
    return recurrence.model_dump()


def read_schedule(todo: Component) -> Fields:
    due_at = _due(todo)
    return {"due_at": due_at, "recurrence": _recurrence(todo, due_at)}


def _write_due(task: Any, todo: Component | None) -> list[Contentline]:
    due: datetime | None = task["due_at"]
    if due is None:
        return []
    due = in_utc(due)
    sent = None if todo is None else getattr(todo.get("DUE"), "dt", None)
    if isinstance(sent, date) and not isinstance(sent, datetime) and due.time() == time():
        # A date-only DUE stays date-only while the task is due at midnight UTC.
        return [content_line("DUE", vDDDTypes(due.date()))]
    recurrence = task.get("recurrence")
    zone = "UTC" if recurrence is None else recurrence["time_zone"]
    if zone != "UTC":
        return [content_line("DUE", vDDDTypes(due.astimezone(zoneinfo.ZoneInfo(zone))))]
    return [content_line("DUE", vDDDTypes(due))]


def write_schedule(task: Any, todo: Component | None = None) -> list[Contentline]:
    lines = _write_due(task, todo)
    recurrence = task.get("recurrence")
    if recurrence is not None:
        # Checked by the service's rules: parts, names and values of plain ASCII.
        lines.append(raw_line(f"RRULE:{recurrence['rule']}"))
    elif todo is not None and "RRULE" in todo and _recurrence(todo, _safe_due(todo)) is None:
        # A rule the API does not take stays in the text as the client wrote it.
        sent = todo["RRULE"]
        lines.extend(content_line("RRULE", rule) for rule in _as_list(sent) if rule)
    return lines


def _safe_due(todo: Component) -> datetime | None:
    try:
        return _due(todo)
    except CalendarDataError:
        return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def same_schedule(client: Fields, task: Any) -> bool:
    """The client's DUE and RRULE still mean the task's: the same instant and rule (a
    recurrence from completion, set over REST, has no RRULE of its own to differ in)."""
    if client["due_at"] != task["due_at"]:
        return False
    sent, current = client["recurrence"], task.get("recurrence")
    if sent is None or current is None:
        return sent is None and current is None
    return bool(sent["rule"] == current["rule"] and sent["time_zone"] == current["time_zone"])


def time_zone_lines(zone: str, due: datetime) -> list[Contentline]:
    """A VTIMEZONE for `zone` around `due`, as content lines."""
    return [raw_line(line) for line in _time_zone_text(zone, due.year).split("\r\n") if line]


@lru_cache(maxsize=256)
def _time_zone_text(zone: str, year: int) -> str:
    first = date(max(year - 1, 1970), 1, 1)
    component = Timezone.from_tzinfo(
        zoneinfo.ZoneInfo(zone), first_date=first, last_date=date(first.year + _ZONE_YEARS, 1, 1)
    )
    text: bytes = component.to_ical()
    # Unfolded: the writer folds each line again where it must.
    return text.decode().replace("\r\n ", "")
