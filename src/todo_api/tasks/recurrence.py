"""A task's `recurrence`: the object clients send and read, and the checks of its rule.

The rule is an RFC 5545 RRULE value limited to the parts the contract names. Parsing is
python-dateutil's (occurrences.py builds its `rrule` from the text); what is checked here
first is what dateutil would accept but the contract refuses: other parts (BYHOUR,
BYYEARDAY...), the `RRULE:` prefix, frequencies under a day, repeated parts, COUNT together
with UNTIL (RFC 5545 forbids it), and numbers out of their RFC 5545 ranges, which dateutil
would search for until year 9999 before finding no occurrence.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

RULE_MAX_LENGTH = 500
TIME_ZONE_MAX_LENGTH = 64
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
RecurFrom = Literal["due", "completion"]

_WEEKDAY = "(MO|TU|WE|TH|FR|SA|SU)"
_POSITIVE = re.compile(r"[1-9][0-9]{0,5}")
_UNTIL = re.compile(r"[0-9]{8}(T[0-9]{6}Z?)?")
_BYDAY = re.compile(rf"([+-]?)([0-9]{{1,2}})?{_WEEKDAY}")
_SIGNED = re.compile(r"([+-]?)([0-9]{1,3})")


def _is_until(value: str) -> bool:
    if _UNTIL.fullmatch(value) is None:
        return False
    try:
        datetime.strptime(value[:15], "%Y%m%dT%H%M%S" if len(value) > 8 else "%Y%m%d")
    except ValueError:
        return False
    return True


def _numbers(name: str, value: str, highest: int) -> None:
    for item in value.split(","):
        match = _SIGNED.fullmatch(item)
        if match is None or not 1 <= int(match[2]) <= highest:
            raise ValueError(f"{name} takes numbers from 1 to {highest} (or -{highest} to -1)")


def _positive(name: str, value: str) -> None:
    if _POSITIVE.fullmatch(value) is None:
        raise ValueError(f"{name} must be a whole number from 1 to 999999")


def _weekdays(value: str, freq: str, has_month: bool) -> None:
    # An ordinal (2MO: the second Monday) counts within a month, or within a year for a
    # YEARLY rule without BYMONTH (RFC 5545 3.3.10); other frequencies take none.
    highest = {"MONTHLY": 5, "YEARLY": 5 if has_month else 53}.get(freq, 0)
    for item in value.split(","):
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise ValueError("BYDAY takes weekdays MO to SU, e.g. MO,TH or 2TU")
        if match[2] is not None and not 1 <= int(match[2]) <= highest:
            if highest == 0:
                raise ValueError(f"BYDAY takes no ordinal with FREQ={freq}")
            raise ValueError(f"a BYDAY ordinal with FREQ={freq} is 1 to {highest}")
        if match[1] and match[2] is None:
            raise ValueError("BYDAY takes weekdays MO to SU, e.g. MO,TH or 2TU")


def rule_parts(rule: str) -> dict[str, str]:
    """The rule's parts by upper-case name, values upper-cased; ValueError says what is
    wrong, in words for the client."""
    if rule.upper().startswith("RRULE:"):
        raise ValueError("give the rule without the RRULE: prefix")
    parts: dict[str, str] = {}
    for pair in rule.split(";"):
        name, equals, value = pair.partition("=")
        name, value = name.upper(), value.upper()
        if not equals or not name or not value:
            raise ValueError("must be NAME=VALUE parts separated by ';', e.g. FREQ=WEEKLY;BYDAY=MO")
        if name not in PARTS:
            raise ValueError(f"{name} is not supported; the parts are {', '.join(PARTS)}")
        if name in parts:
            raise ValueError(f"{name} is given twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq not in FREQUENCIES:
        raise ValueError(f"FREQ is required, one of {', '.join(FREQUENCIES)}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL cannot both be given")
    for name in ("INTERVAL", "COUNT"):
        if name in parts:
            _positive(name, parts[name])
    if "UNTIL" in parts and not _is_until(parts["UNTIL"]):
        raise ValueError("UNTIL is a date (20261231) or a date-time (20261231T170000Z)")
    if "BYMONTH" in parts:
        for month in parts["BYMONTH"].split(","):
            if not (month.isdigit() and 1 <= int(month) <= 12):
                raise ValueError("BYMONTH takes months 1 to 12")
    if "BYMONTHDAY" in parts:
        if freq == "WEEKLY":
            raise ValueError("BYMONTHDAY cannot be used with FREQ=WEEKLY")
        _numbers("BYMONTHDAY", parts["BYMONTHDAY"], 31)
    if "BYDAY" in parts:
        _weekdays(parts["BYDAY"], freq, "BYMONTH" in parts)
    if "BYSETPOS" in parts:
        if not {"BYDAY", "BYMONTHDAY", "BYMONTH"} & set(parts):
            raise ValueError("BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH beside it")
        _numbers("BYSETPOS", parts["BYSETPOS"], 366)
    if "WKST" in parts and re.fullmatch(_WEEKDAY, parts["WKST"]) is None:
        raise ValueError("WKST is a weekday, MO to SU")
    return parts


def _valid_rule(rule: str) -> str:
    rule_parts(rule)
    return rule


def counted_down(rule: str) -> str:
    """The rule with its COUNT one less, every other part as sent."""
    pairs = rule.split(";")
    for index, pair in enumerate(pairs):
        name, _equals, value = pair.partition("=")
        if name.upper() == "COUNT":
            pairs[index] = f"{name}={int(value) - 1}"
    return ";".join(pairs)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _valid_zone(name: str) -> str:
    # Only names of the IANA database: ZoneInfo itself would also read a file path.
    if name not in _zone_names():
        raise ValueError("must be an IANA time zone name, e.g. Europe/Berlin")
    return name


Rule = Annotated[
    str,
    Field(
        min_length=1,
        max_length=RULE_MAX_LENGTH,
        description=(
            "An RFC 5545 RRULE value without the `RRULE:` prefix. FREQ is DAILY, WEEKLY, "
            "MONTHLY or YEARLY; INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS "
            f"and WKST are accepted. At most {RULE_MAX_LENGTH} characters. Returned as sent, "
            "except that COUNT goes down by one each time the task advances."
        ),
        examples=["FREQ=WEEKLY;BYDAY=MO,TH"],
    ),
    AfterValidator(_valid_rule),
]
TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TIME_ZONE_MAX_LENGTH,
        description=(
            "An IANA time zone name: occurrences keep their local time of day there, across "
            "daylight-saving changes."
        ),
        examples=["Europe/Berlin"],
    ),
    AfterValidator(_valid_zone),
]


class Recurrence(BaseModel):
    """How a task repeats. A recurring task needs a `due_at`, its first occurrence."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        # Only `from`: `from_` is a Python name, not a field of the API.
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
        json_schema_extra={
            "examples": [
                {"rule": "FREQ=WEEKLY;BYDAY=MO", "time_zone": "Europe/Berlin", "from": "due"},
                {"rule": "FREQ=DAILY;INTERVAL=3", "time_zone": "UTC", "from": "completion"},
            ]
        },
    )

    rule: Rule
    time_zone: TimeZone = "UTC"
    from_: RecurFrom = Field(
        default="due",
        alias="from",
        description=(
            "`due`: the next occurrence follows the current due_at. `completion`: the rule "
            "starts again on the day the task is completed, at its local time of day, and "
            "the next due_at is its first occurrence after that moment."
        ),
        examples=["due"],
    )


# The task's storage columns for its recurrence (models.py): all null, or all set. The last
# is the local time of day its occurrences keep (occurrences.py), not part of the object.
RECURRENCE_COLUMNS = (
    "recurrence_rule",
    "recurrence_time_zone",
    "recurrence_from",
    "recurrence_local_time",
)


def recurrence_columns(recurrence: Recurrence | None, local_time: time | None) -> dict[str, Any]:
    """The column values of a recurrence whose occurrences are at `local_time`."""
    if recurrence is None:
        return dict.fromkeys(RECURRENCE_COLUMNS)
    return {
        "recurrence_rule": recurrence.rule,
        "recurrence_time_zone": recurrence.time_zone,
        "recurrence_from": recurrence.from_,
        "recurrence_local_time": local_time,
    }
