"""The DAV tree's addresses: every href the service writes, and what a client's href names.

    /dav/                                  the root (discovery starts here)
    /dav/principals/{user}/                the user's principal
    /dav/calendars/{user}/                 the calendar home
    /dav/calendars/{user}/{list}/          one calendar collection per task list
    /dav/calendars/{user}/{list}/{name}    one resource per task

`{user}` is the subject itself when it is plain (`[A-Za-z0-9._@+-]`), else `~` and its
base64url form: a subject from an outside issuer may hold a `/`, which no proxy or
client keeps intact in a path. `{list}` is the segment a client chose with MKCALENDAR, else
the list's id; `{name}` the name a client chose with PUT, else `<task id>.ics`.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

ROOT = "/dav/"
_PLAIN_SUBJECT = re.compile(r"[A-Za-z0-9._@+-]{1,255}")


def user_segment(subject: str) -> str:
    if _PLAIN_SUBJECT.fullmatch(subject) and subject not in (".", ".."):
        return subject
    encoded = base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")
    return f"~{encoded}"


def _segment(text: str) -> str:
    return quote(text, safe="@+-._~!$&'()*,;=:")


def principal(subject: str) -> str:
    return f"{ROOT}principals/{_segment(user_segment(subject))}/"


def home(subject: str) -> str:
    return f"{ROOT}calendars/{_segment(user_segment(subject))}/"


def collection(subject: str, segment: str) -> str:
    return f"{home(subject)}{_segment(segment)}/"


def resource(subject: str, segment: str, name: str) -> str:
    return f"{collection(subject, segment)}{_segment(name)}"


def list_segment(list_id: uuid.UUID, dav_name: str | None) -> str:
    return dav_name if dav_name is not None else str(list_id)


def resource_name(task_id: uuid.UUID, dav_name: str | None) -> str:
    return dav_name if dav_name is not None else f"{task_id}.ics"


def task_id_of(name: str) -> uuid.UUID | None:
    """The task a name `<id>.ics` stands for, when the name has that form."""
    if not name.endswith(".ics"):
        return None
    try:
        return uuid.UUID(name[:-4])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Member:
    """What a client's href names inside a calendar home: a collection, maybe a resource."""

    user: str
    collection: str
    name: str | None


def member_of(href: str) -> Member | None:
    """The collection and resource an href (absolute or a path) names, or None when it
    names nothing under `/dav/calendars/`."""
    path = unquote(urlsplit(href).path)
    prefix = f"{ROOT}calendars/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/")
    if len(parts) == 3 and parts[2] == "":
        return Member(parts[0], parts[1], None)
    if len(parts) == 3 and parts[2]:
        return Member(parts[0], parts[1], parts[2])
    return None
