"""Content lines of iCalendar text, and the error a body that is no acceptable calendar
object raises: shared by the mapping table (`ical.py`, `ical_schedule.py`) and the writer
(`calendar_text.py`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from icalendar.parser import Contentline, Parameters


class CalendarDataError(ValueError):
    """A body that is no acceptable calendar object; `condition` names the RFC 4791
    precondition it breaks (`valid-calendar-data`, `supported-calendar-component`,
    `valid-calendar-object-resource`)."""

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition


def content_line(name: str, value: Any) -> Contentline:
    params: Parameters = getattr(value, "params", None) or Parameters()
    line: Contentline = Contentline.from_parts(name, params, value)
    return line


def raw_line(text: str) -> Contentline:
    return Contentline(text)  # type: ignore[no-untyped-call]


def in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
