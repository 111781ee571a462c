"""calendar-query filters (RFC 4791 section 9.7) evaluated on a task's VCALENDAR.

A task's time span for a time-range filter follows RFC 4791 section 9.9's table for VTODO:
DTSTART with DURATION or DUE, DTSTART alone, DUE alone, then COMPLETED and CREATED, and a
task with none of them overlaps every range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Component

from todo_api.dav.xml import CompFilter, ParamFilter, PropFilter, TextMatch, TimeRange

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
COLLATIONS = frozenset({"i;ascii-casemap", "i;octet", "i;unicode-casemap"})


class UnsupportedCollationError(ValueError):
    """A text-match names a collation this server does not have (CALDAV:supported-collation)."""


def matches(calendar: Component, query: CompFilter | None) -> bool:
    if query is None:
        return True
    if query.name != calendar.name:
        return query.is_not_defined
    return _component_matches(calendar, query)


def every_task_matches(query: CompFilter | None) -> bool:
    """Whether the filter asks only for VCALENDARs (holding a VTODO): true of every task's
    text, so no text needs parsing."""
    if query is None:
        return True
    if query.name != "VCALENDAR" or query.is_not_defined or query.time_range or query.prop_filters:
        return False
    return all(
        part.name == "VTODO"
        and not (part.is_not_defined or part.time_range or part.prop_filters or part.comp_filters)
        for part in query.comp_filters
    )


def _component_matches(component: Component, query: CompFilter) -> bool:
    if query.is_not_defined:
        return False
    if query.time_range is not None and not _component_in_range(component, query.time_range):
        return False
    if not all(_property_matches(component, part) for part in query.prop_filters):
        return False
    for part in query.comp_filters:
        children = [child for child in component.subcomponents if child.name == part.name]
        if part.is_not_defined:
            if children:
                return False
        elif not any(_component_matches(child, part) for child in children):
            return False
    return True


def _values(component: Component, name: str) -> list[Any]:
    value = component.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _property_matches(component: Component, query: PropFilter) -> bool:
    values = _values(component, query.name)
    if query.is_not_defined:
        return not values
    if not values:
        return False
    return any(_value_matches(value, query) for value in values)


def _value_matches(value: Any, query: PropFilter) -> bool:
    if query.time_range is not None:
        moment = _instant(getattr(value, "dt", None))
        if moment is None or not _overlaps(query.time_range, moment, moment):
            return False
    if query.text_match is not None and not text_matches(_as_text(value), query.text_match):
        return False
    params = getattr(value, "params", {})
    return all(_param_matches(params, part) for part in query.param_filters)


def _param_matches(params: Any, query: ParamFilter) -> bool:
    value = params.get(query.name)
    if query.is_not_defined:
        return value is None
    if value is None:
        return False
    if query.text_match is None:
        return True
    return text_matches(str(value), query.text_match)


def _as_text(value: Any) -> str:
    categories = getattr(value, "cats", None)
    if categories is not None:
        return ",".join(str(category) for category in categories)
    if isinstance(value, str):
        return str(value)
    try:
        text = value.to_ical()
    except (AttributeError, ValueError, TypeError):
        return str(value)
    return text.decode() if isinstance(text, bytes) else str(text)


def check_collation(collation: str) -> None:
    if collation not in COLLATIONS:
        raise UnsupportedCollationError(collation)


def text_matches(text: str, query: TextMatch) -> bool:
    check_collation(query.collation)
    if query.collation == "i;octet":
        found = query.text in text
    elif query.collation == "i;ascii-casemap":
        found = _ascii_fold(query.text) in _ascii_fold(text)
    else:
        found = query.text.casefold() in text.casefold()
    return found != query.negate


def _ascii_fold(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


def _instant(moment: object) -> datetime | None:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(moment, date):
        return datetime.combine(moment, time(), UTC)
    return None


def _at(component: Component, name: str) -> datetime | None:
    values = _values(component, name)
    return _instant(getattr(values[0], "dt", None)) if values else None


def _overlaps(bounds: TimeRange, first: datetime, last: datetime) -> bool:
    start = bounds.start or _EARLIEST
    end = bounds.end or _LATEST
    return start <= last and end > first


def _component_in_range(component: Component, bounds: TimeRange) -> bool:
    if component.name != "VTODO":
        # Ranges on other components (VALARM, VTIMEZONE) are not evaluated: they match.
        return True
    start = bounds.start or _EARLIEST
    end = bounds.end or _LATEST
    dtstart, due = _at(component, "DTSTART"), _at(component, "DUE")
    completed, created = _at(component, "COMPLETED"), _at(component, "CREATED")
    duration = _values(component, "DURATION")
    length = getattr(duration[0], "dt", None) if duration else None
    if dtstart is not None and isinstance(length, timedelta):
        finish = dtstart + length
        return start <= finish and (end > dtstart or end >= finish)
    if dtstart is not None and due is not None:
        return (start < due or start <= dtstart) and (end > dtstart or end >= due)
    if dtstart is not None:
        return start <= dtstart and end > dtstart
    if due is not None:
        return start < due and end >= due
    if completed is not None and created is not None:
        return (start <= created or start <= completed) and (end >= created or end >= completed)
    if completed is not None:
        return start <= completed and end >= completed
    if created is not None:
        return end > created
    return True
