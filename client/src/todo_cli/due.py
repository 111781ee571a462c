"""`--due WHEN`: what people type for a deadline, as the RFC 3339 time the service expects."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from todo_cli.errors import InvalidInputError

DUE_HELP = (
    "an RFC 3339 date-time (2026-12-01T17:00:00+01:00; without an offset, local time), "
    "a date (2026-12-01: the end of that day, local time), 'today' or 'tomorrow'"
)
END_OF_DAY = time(23, 59, 59)


def parse_due(text: str, *, now: datetime | None = None) -> datetime:
    """An aware datetime in the local time zone unless the text gave its own offset."""
    value = text.strip()
    today = (now or datetime.now()).date()
    relative = {"today": today, "tomorrow": today + timedelta(days=1)}.get(value.lower())
    if relative is not None:
        return end_of_day(relative)
    try:
        if len(value) == 10:
            return end_of_day(date.fromisoformat(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"cannot read --due {text!r}: expected {DUE_HELP}") from None
    # A naive time is local time; astimezone() takes the local offset in force on that date,
    # so a deadline across a daylight-saving change keeps its wall-clock time.
    return moment if moment.tzinfo is not None else moment.astimezone()


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY).astimezone()


def to_rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
