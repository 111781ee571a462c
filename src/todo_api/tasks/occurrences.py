"""When a recurring task is due next: python-dateutil's `rrule`, in the task's local time.

Occurrences are computed on local wall-clock times of the recurrence's `time_zone` (naive
datetimes), then placed in the zone: so a task due every Monday at 09:00 in Europe/Berlin
stays at 09:00 across daylight-saving changes, and the 31st of a month stays the 31st. A
local time that a spring change skips (02:30 on the last Sunday of March in Berlin) takes
the offset before the change, as `zoneinfo` does with `fold=0`: 03:30 summer time.

The due_at is the first occurrence, counted by COUNT: the next one is the rule's first after
it, and none is left when COUNT is 1. The local time of day that occurrences keep is stored
with the rule (`local_time_of` the due_at it was given with), since a due_at moved past a
skipped hour no longer tells it: a daily 02:30 task is due at 03:30 on the day the clocks
skip 02:00 to 03:00, and at 02:30 again the day after.

Bounded search: dateutil looks for an occurrence until year 9999, which for a rule that
never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) takes seconds. The Gregorian calendar
repeats itself, weekdays included, every 400 years, so a search moved forward by whole such
cycles finds the same occurrences moved by as much: it is run near year 9999, where the end
of dateutil's search lies SEARCH_YEARS to SEARCH_YEARS + 400 years ahead, and moved back.
A rule with no occurrence within that reach has none (measured on this machine: a
never-matching FREQ=DAILY rule fails within 0.5 s, against 8 s unbounded).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time

from dateutil.rrule import rrule, rrulestr

from todo_api.tasks.recurrence import RecurFrom, rule_parts

SEARCH_YEARS = 100
_CYCLE_YEARS = 400
_LAST_YEAR = 9999
_UNTIL_PART = re.compile(r"(^|;)UNTIL=[^;]*", re.IGNORECASE)


def _local(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _placed(local: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _until(value: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """UNTIL as a local wall-clock time: a date includes its whole day, a UTC time (Z) is
    converted, a floating time is taken as local."""
    day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    if len(value) == 8:
        return datetime.combine(day, time(23, 59, 59))
    moment = datetime.combine(day, time(int(value[9:11]), int(value[11:13]), int(value[13:15])))
    if value.endswith("Z"):
        return _local(moment.replace(tzinfo=UTC), zone)
    return moment


def _first(
    text: str, start: datetime, after: datetime, zone: zoneinfo.ZoneInfo, *, inclusive: bool
) -> datetime | None:
    """The first occurrence at (or, not `inclusive`, strictly after) `after` of the rule
    from `start` (local, whole seconds), without its COUNT (the caller counts), searched
    within reach (the module's docstring)."""
    parts = rule_parts(text)
    without_count = ";".join(
        f"{name}={value}" for name, value in parts.items() if name not in ("COUNT", "UNTIL")
    )
    if _never(parts):
        return None
    years = max(0, (_LAST_YEAR - SEARCH_YEARS - start.year) // _CYCLE_YEARS) * _CYCLE_YEARS
    try:
        rule = rrulestr(without_count, dtstart=_shift(start, years))
        assert isinstance(rule, rrule)
        if "UNTIL" in parts:
            rule = rule.replace(until=_shift_until(_until(parts["UNTIL"], zone), years))
    except ValueError:  # dateutil's "byxxx generates an empty set"
        return None
    found = rule.after(_shift(after, years), inc=inclusive)
    return None if found is None else _shift(found, -years)


# The longest each month gets, and the most days one period of each frequency holds.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}


def _never(parts: dict[str, str]) -> bool:
    """The plainest rules that never match (a 30th of February, the 9th day of a week),
    told without searching: the search for those is the longest."""
    if "BYMONTHDAY" in parts:
        months = [
            int(month) for month in parts.get("BYMONTH", "1,2,3,4,5,6,7,8,9,10,11,12").split(",")
        ]
        days = [abs(int(day)) for day in parts["BYMONTHDAY"].split(",")]
        if all(day > _MONTH_DAYS[month - 1] for month in months for day in days):
            return True
    if "BYSETPOS" in parts:
        longest = _PERIOD_DAYS[parts["FREQ"]]
        return all(abs(int(position)) > longest for position in parts["BYSETPOS"].split(","))
    return False


def _shift(moment: datetime, years: int) -> datetime:
    # Whole 400-year cycles keep leap days and weekdays where they were.
    return moment.replace(year=moment.year + years)


def _shift_until(until: datetime, years: int) -> datetime:
    try:
        return _shift(until, years)
    except ValueError:  # past year 9999: no end within reach
        return datetime(_LAST_YEAR, 12, 31, 23, 59, 59)


def local_time_of(due_at: datetime, time_zone: str) -> time:
    """The local time of day of `due_at` in the zone: the one its occurrences keep."""
    try:
        return _local(due_at, zoneinfo.ZoneInfo(time_zone)).time()
    except OverflowError:  # no occurrence there anyway (has_occurrence)
        return due_at.time()


def has_occurrence(rule: str, time_zone: str, due_at: datetime) -> bool:
    """Whether the rule has an occurrence at or after `due_at` (a recurrence's first)."""
    zone = zoneinfo.ZoneInfo(time_zone)
    try:
        local = _local(due_at, zone).replace(microsecond=0)
    except OverflowError:  # the local time would be before year 1 or after 9999
        return False
    return _first(rule, local, local, zone, inclusive=True) is not None


def next_due(
    rule: str,
    time_zone: str,
    recur_from: RecurFrom,
    due_at: datetime,
    completed_at: datetime,
    local_time: time | None = None,
) -> datetime | None:
    """The due_at after a completion at `completed_at` of a task due at `due_at` whose
    occurrences are at `local_time` (by default the due_at's own), or None when no
    occurrence is left."""
    count = rule_parts(rule).get("COUNT")
    if count is not None and int(count) <= 1:
        return None
    zone = zoneinfo.ZoneInfo(time_zone)
    try:
        local_due = _local(due_at, zone)
        local_completion = _local(completed_at, zone)
    except OverflowError:
        return None
    time_of_day = local_time or local_due.time()
    # dateutil works in whole seconds; the time's fraction is kept.
    fraction = time_of_day.microsecond
    if recur_from == "due":
        start = after = datetime.combine(local_due.date(), time_of_day.replace(microsecond=0))
    else:
        # The rule starts again on the day of completion, at the task's local time of day.
        after = local_completion
        start = datetime.combine(after.date(), time_of_day.replace(microsecond=0))
    found = _first(rule, start, after, zone, inclusive=False)
    if found is None:
        return None
    try:
        return _placed(found.replace(microsecond=fraction), zone)
    except OverflowError:  # in UTC past year 9999: none left
        return None
