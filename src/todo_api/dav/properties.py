"""The WebDAV properties of each kind of resource, and a PROPFIND answer from them.

Each kind has a table of property name to its value, already XML; a value that costs
work (a task's calendar data) is a function, called only when the client asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from email.utils import format_datetime
from typing import Any

import orjson

from todo_api.dav import paths
from todo_api.dav.calendar_text import render
from todo_api.dav.xml import (
    CALDAV,
    CALENDARSERVER,
    DAV,
    PropertyRequest,
    element,
    escape_text,
    href,
    qname,
    response,
)
from todo_api.tasks.repository import AnyRow, task_fields

Value = str | Callable[[], str]
Properties = Mapping[str, Value]

CALENDAR_DATA = qname(CALDAV, "calendar-data")
GETETAG = qname(DAV, "getetag")
# What allprop leaves out (RFC 4791 section 9.6: calendar-data only when asked by name).
_NOT_IN_ALLPROP = frozenset({CALENDAR_DATA})


def _privileges(*names: str) -> str:
    return "".join(element(qname(DAV, "privilege"), element(qname(DAV, name))) for name in names)


_READ_ONLY = _privileges("read", "read-current-user-privilege-set")
_READ_WRITE = _privileges(
    "read",
    "read-current-user-privilege-set",
    "write",
    "write-properties",
    "write-content",
    "bind",
    "unbind",
)
_REPORTS = "".join(
    element(qname(DAV, "supported-report"), element(qname(DAV, "report"), element(name)))
    for name in (
        qname(CALDAV, "calendar-multiget"),
        qname(CALDAV, "calendar-query"),
        qname(DAV, "sync-collection"),
    )
)
_VTODO_ONLY = '<C:comp name="VTODO"/>'
_CALENDAR_MEDIA_TYPE = "text/calendar; charset=utf-8; component=vtodo"


# Properties the service computes: a client cannot set or remove them (403 in PROPPATCH;
# ignored in MKCALENDAR, where displayname names the list).
PROTECTED = frozenset(
    {
        qname(DAV, name)
        for name in (
            "resourcetype",
            "displayname",
            "current-user-privilege-set",
            "supported-report-set",
            "owner",
            "sync-token",
            "getetag",
            "getcontenttype",
            "getlastmodified",
            "current-user-principal",
            "principal-URL",
            "principal-collection-set",
        )
    }
    | {
        qname(CALDAV, "supported-calendar-component-set"),
        qname(CALDAV, "supported-calendar-data"),
        qname(CALDAV, "calendar-home-set"),
        qname(CALENDARSERVER, "getctag"),
    }
)


def _user(subject: str) -> dict[str, Value]:
    return {
        qname(DAV, "current-user-principal"): href(paths.principal(subject)),
        qname(DAV, "principal-URL"): href(paths.principal(subject)),
        qname(CALDAV, "calendar-home-set"): href(paths.home(subject)),
        qname(DAV, "principal-collection-set"): href(f"{paths.ROOT}principals/"),
    }


def root(subject: str) -> dict[str, Value]:
    return {
        qname(DAV, "resourcetype"): element(qname(DAV, "collection")),
        qname(DAV, "current-user-privilege-set"): _READ_ONLY,
        **_user(subject),
    }


def principal(subject: str) -> dict[str, Value]:
    return {
        qname(DAV, "resourcetype"): element(qname(DAV, "principal")),
        qname(DAV, "displayname"): escape_text(subject),
        qname(DAV, "current-user-privilege-set"): _READ_ONLY,
        **_user(subject),
    }


def home(subject: str) -> dict[str, Value]:
    return {
        qname(DAV, "resourcetype"): element(qname(DAV, "collection")),
        qname(DAV, "current-user-privilege-set"): _READ_WRITE,
        qname(DAV, "owner"): href(paths.principal(subject)),
        **_user(subject),
    }


def collection(subject: str, row: AnyRow, counter_token: str, ctag: str) -> dict[str, Value]:
    kept: dict[str, str] = orjson.loads(row.dav_properties or "{}")
    return {
        **{name: escape_text(text) for name, text in kept.items()},
        qname(DAV, "resourcetype"): element(qname(DAV, "collection"))
        + element(qname(CALDAV, "calendar")),
        qname(DAV, "displayname"): escape_text(row.name),
        qname(DAV, "current-user-privilege-set"): _READ_WRITE,
        qname(DAV, "supported-report-set"): _REPORTS,
        qname(DAV, "owner"): href(paths.principal(subject)),
        qname(DAV, "sync-token"): escape_text(counter_token),
        qname(CALENDARSERVER, "getctag"): escape_text(ctag),
        qname(CALDAV, "supported-calendar-component-set"): _VTODO_ONLY,
        qname(CALDAV, "supported-calendar-data"): (
            '<C:calendar-data content-type="text/calendar" version="2.0"/>'
        ),
        **_user(subject),
    }


def task_document(row: AnyRow) -> str:
    """A member row's VCALENDAR text (`ical` is present when it was read)."""
    stored: str | None = row._mapping.get("ical")
    stored_fields: str | None = row._mapping.get("ical_fields")
    task = task_fields(row)
    parent = row.parent_id
    task["parent_uid"] = None if parent is None else row.parent_dav_uid or str(parent)
    return render(task, row.dav_uid or str(row.id), stored, stored_fields)


def task(subject: str, segment: str, row: AnyRow) -> tuple[str, dict[str, Value]]:
    """A task resource's href and properties."""
    path = paths.resource(subject, segment, paths.resource_name(row.id, row.dav_name))
    properties: dict[str, Value] = {
        qname(DAV, "resourcetype"): "",
        GETETAG: escape_text(row.etag),
        qname(DAV, "getcontenttype"): _CALENDAR_MEDIA_TYPE,
        qname(DAV, "getlastmodified"): format_datetime(row.updated_at, usegmt=True),
        qname(DAV, "current-user-privilege-set"): _READ_WRITE,
        CALENDAR_DATA: lambda: escape_text(task_document(row)),
    }
    return path, properties


def answer(path: str, properties: Properties, request: PropertyRequest) -> str:
    """One `response` of a multistatus: the properties asked for, found or not."""
    if request.kind == "propname":
        return response(path, [element(name) for name in properties])
    if request.kind == "allprop":
        names: Any = [name for name in properties if name not in _NOT_IN_ALLPROP]
    else:
        names = request.names
    found: list[str] = []
    missing: list[str] = []
    for name in names:
        value = properties.get(name)
        if value is None:
            missing.append(name)
            continue
        inner = value() if callable(value) else value
        found.append(element(name, inner))
    return response(path, found, missing)


def wants_data(request: PropertyRequest) -> bool:
    return request.kind == "prop" and CALENDAR_DATA in request.names
