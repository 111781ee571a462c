"""`DavService`: CalDAV's rules, over the task and list services that hold every rule of
tasks and lists (ownership, names, limits, If-Match, sync, the default list).

What is CalDAV's own: which collection and resource a URL names (a client's chosen segment
or name, else the id), what a PUT body may be (RFC 4791's preconditions: `ical.py`), the
conditional headers of PUT (If-None-Match: * creates only, If-Match names the task's
ETag), and collection sync tokens. Tokens of collections follow the owner's change
counter, the same commit-ordered numbers as `/tasks/changes` (tasks/changes.py): the
counter is read before the changes, so a change that commits meanwhile comes again next
time rather than never.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import ValidationError

from todo_api.database import utc_now
from todo_api.dav.ical import CalendarDataError, fingerprint, parse_todo, same_uid
from todo_api.dav.paths import resource_name
from todo_api.dav.repository import DavRepository
from todo_api.errors import AppError, ConflictError, InvalidParameterError, NotFoundError
from todo_api.lists.schemas import ListCreate, ListRename
from todo_api.lists.service import ListService
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError, parse_entity_tags
from todo_api.tasks.repository import AnyRow
from todo_api.tasks.schemas import TaskCreate, TaskRead, TaskReplace
from todo_api.tasks.service import TaskService

_TOKEN = re.compile(r"urn:x-todo-api:sync:(\d{1,19}):(\d{1,12})")
MAX_NAME = 255
# What a calendar keeps of the properties clients set that no column models.
MAX_KEPT_PROPERTIES = 50
MAX_KEPT_TEXT = 4096


class DavPreconditionError(AppError):
    """An RFC 4918 / 4791 precondition or postcondition that failed, named in the body."""

    status: ClassVar[int] = 403

    def __init__(self, namespace: str, condition: str, detail: str, status: int = 403) -> None:
        super().__init__(detail)
        self.namespace = namespace
        self.condition = condition
        self.status_code = status


def _caldav(condition: str, detail: str) -> DavPreconditionError:
    return DavPreconditionError("urn:ietf:params:xml:ns:caldav", condition, detail)


def _dav(condition: str, detail: str, status: int = 403) -> DavPreconditionError:
    return DavPreconditionError("DAV:", condition, detail, status)


class ResourceNotFoundError(NotFoundError):
    detail = "Nothing is stored at this address."


class MissingCalendarError(ConflictError):
    detail = "No calendar is at this address: make it first (MKCALENDAR)."


@dataclass(frozen=True, slots=True)
class Written:
    task: TaskRead
    created: bool


@dataclass(frozen=True, slots=True)
class SyncStart:
    since: int | None
    issued: datetime


class DavService:
    __slots__ = ("dav", "keep_days", "lists", "owner", "tasks")

    def __init__(
        self, tasks: TaskService, lists: ListService, dav: DavRepository, keep_days: int
    ) -> None:
        self.tasks = tasks
        self.lists = lists
        self.dav = dav
        self.owner = dav.owner
        self.keep_days = keep_days

    # --- collections ---------------------------------------------------------------------

    async def collections(self) -> list[AnyRow]:
        rows = await self.dav.lists()
        if not rows or not rows[0].is_default:
            await self.lists.ensure_default_list()
            rows = await self.dav.lists()
        return rows

    async def collection(self, segment: str) -> AnyRow:
        row = await self.dav.list_by_segment(segment)
        if row is None and segment == str(self.lists.default_list_id):
            await self.lists.ensure_default_list()
            row = await self.dav.list_by_segment(segment)
        if row is None:
            raise ResourceNotFoundError
        return row

    async def make_collection(
        self, segment: str, display_name: str | None, kept: dict[str, str] | None = None
    ) -> None:
        """A list at the client's `segment`, with the properties it set that no column
        models (`kept`: name to text)."""
        if not 1 <= len(segment) <= MAX_NAME:
            raise _dav("valid-resourcetype", f"A calendar's name is 1 to {MAX_NAME} characters.")
        if await self.dav.list_by_segment(segment) is not None:
            raise _dav("resource-must-be-null", "A calendar exists at this address.")
        made = await self.lists.create(_valid(ListCreate, display_name or segment))
        if not await self.dav.name_list(made.id, segment):
            await self.lists.delete(made.id)
            raise _dav("resource-must-be-null", "A calendar exists at this address.")
        if kept:
            await self.dav.keep_properties(made.id, _kept_text(kept))

    async def update_properties(
        self,
        segment: str,
        display_name: str | None,
        changed: dict[str, str],
        removed: list[str],
    ) -> None:
        """PROPPATCH: the list renamed when `display_name` is given; the properties no
        column models set (`changed`) or removed."""
        row = await self.collection(segment)
        if display_name is not None:
            await self.lists.rename(row.id, _valid(ListRename, display_name))
        if changed or removed:
            kept: dict[str, str] = orjson.loads(row.dav_properties or "{}")
            kept.update(changed)
            for name in removed:
                kept.pop(name, None)
            await self.dav.keep_properties(row.id, _kept_text(kept))

    async def rename_collection(self, segment: str, display_name: str) -> None:
        row = await self.collection(segment)
        await self.lists.rename(row.id, _valid(ListRename, display_name))

    async def delete_collection(self, segment: str, if_match: str | None) -> None:
        row = await self.collection(segment)
        await self.lists.delete(row.id, IfMatch.from_header(if_match))

    # --- resources -----------------------------------------------------------------------

    async def resource(self, segment: str, name: str) -> AnyRow:
        """The task at this address, with its stored text: one statement."""
        row = await self.dav.resource(segment, name)
        if row is None:
            raise ResourceNotFoundError
        return row

    async def put(
        self,
        segment: str,
        name: str,
        text: str,
        *,
        if_match: str | None,
        if_none_match: str | None,
    ) -> Written:
        try:
            collection = await self.collection(segment)
        except ResourceNotFoundError:
            # RFC 4918 section 9.7.1: a PUT whose parent collection is missing is 409.
            raise MissingCalendarError from None
        if not 1 <= len(name) <= MAX_NAME or name in (".", ".."):
            raise _caldav(
                "valid-calendar-object-resource", "A resource name is 1 to 255 characters."
            )
        try:
            parsed = parse_todo(text)
        except CalendarDataError as error:
            raise _caldav(error.condition, str(error)) from None
        if len(parsed.uid) > MAX_NAME:
            raise _caldav("valid-calendar-object-resource", "A UID is at most 255 characters.")
        fields = dict(parsed.fields)
        parent_uid: str | None = fields.pop("parent_uid")
        try:
            content = TaskReplace.model_validate(fields)
        except ValidationError as error:
            raise _caldav("valid-calendar-object-resource", _first_problem(error)) from None
        found = await self.dav.named_or_holding(collection.id, name, parsed.uid, parent_uid)
        rows = [row for row in found if resource_name(row.id, row.dav_name) == name]
        if any(_holds(row, parsed.uid) for row in found if row not in rows):
            # RFC 4791 section 5.3.2.1: one UID, one resource in a collection.
            raise _caldav("no-uid-conflict", "Another resource of this calendar has this UID.")
        # A parent the calendar does not hold (yet: clients upload a child before its
        # parent) leaves the task top-level; its RELATED-TO stays in the text as sent.
        parent_id = next(
            (row.id for row in found if parent_uid is not None and _holds(row, parent_uid)), None
        )
        fields = _content(content, rows[0] if rows else None)
        stored = {
            "ical": text,
            "ical_fields": fingerprint({**fields, "parent_id": parent_id}),
            "dav_uid": parsed.uid,
            # A UID over MAX_NAME is no task's here: no task will come to adopt it.
            "dav_parent_uid": (
                parent_uid if parent_id is None and len(parent_uid or "") <= MAX_NAME else None
            ),
        }
        orphans = [
            row.id
            for row in found
            if row.dav_parent_uid == parsed.uid and row.parent_id is None and row not in rows
        ]
        none_match = parse_entity_tags(if_none_match)
        try:
            if rows:
                if none_match is not None and (
                    none_match.any_tag or none_match.weakly_match(rows[0].etag)
                ):
                    raise PreconditionFailedError("A resource exists at this address.")
                changes: dict[str, Any] = {**fields, **stored}
                if parent_id != rows[0].parent_id:
                    # Only a new parent places the task (a transaction, placement.py).
                    changes["parent_id"] = parent_id
                task = await self.tasks.patch(rows[0].id, changes, IfMatch.from_header(if_match))
                return Written(task, created=False)
            if if_match is not None:
                raise PreconditionFailedError("Nothing is stored at this address yet.")
            data = TaskCreate(**fields, list_id=collection.id, parent_id=parent_id)
            created = await self.tasks.create(data, {**stored, "dav_name": name})
        except InvalidParameterError as error:
            # The rules of parents and recurrences (a cycle, a fifth level...), refused as
            # RFC 4791's other rule violations are: 403, nothing stored.
            raise _caldav("valid-calendar-object-resource", str(error)) from None
        await self._adopt(created.id, orphans)
        return Written(created, created=True)

    async def _adopt(self, parent_id: uuid.UUID, children: list[uuid.UUID]) -> None:
        """Make a new task the parent of the calendar's tasks that named its UID before it
        was there (a client's sync uploads a child before its parent); found by the PUT's
        look-up. A child the subtask rules refuse (a fifth level) stays top-level."""
        for child in children:
            try:
                await self.tasks.patch(child, {"parent_id": parent_id, "dav_parent_uid": None})
            except (InvalidParameterError, NotFoundError):
                continue

    async def delete_resource(self, segment: str, name: str, if_match: str | None) -> None:
        row = await self.resource(segment, name)
        await self.tasks.delete(row.id, IfMatch.from_header(if_match))

    async def members(self, collection: AnyRow, *, with_data: bool) -> list[AnyRow]:
        return await self.dav.members(collection.id, with_data=with_data)

    async def named(self, collection: AnyRow, names: list[str], *, with_data: bool) -> list[AnyRow]:
        return await self.dav.named(collection.id, names, with_data=with_data)

    # --- sync ----------------------------------------------------------------------------

    def sync_start(self, token: str) -> SyncStart:
        """Where a sync-collection report starts; 403 valid-sync-token for a token this
        service did not issue or whose deletions may have been pruned."""
        now = utc_now()
        if not token:
            return SyncStart(None, now)
        found = _TOKEN.fullmatch(token)
        if found is None:
            raise _dav("valid-sync-token", "This sync token was not issued here.")
        since, issued = int(found.group(1)), int(found.group(2))
        try:
            issued_at = datetime.fromtimestamp(issued, now.tzinfo)
        except (OverflowError, OSError, ValueError):
            raise _dav("valid-sync-token", "This sync token was not issued here.") from None
        if issued_at < now - timedelta(days=self.keep_days) or issued_at > now + timedelta(days=1):
            raise _dav("valid-sync-token", "This sync token has expired: sync from the start.")
        return SyncStart(since, issued_at)

    async def changes(
        self, collection: AnyRow, start: SyncStart, *, with_data: bool
    ) -> tuple[int, list[AnyRow], list[AnyRow]]:
        """(the counter, members changed since the start, tasks that left since then)."""
        counter = await self.dav.counter()
        if start.since is not None and start.since > counter:
            raise _dav("valid-sync-token", "This sync token was not issued here.")
        if start.since is None:
            return counter, await self.dav.members(collection.id, with_data=with_data), []
        changed, gone = await self.dav.changes(collection.id, start.since, with_data=with_data)
        return counter, changed, gone


def _holds(row: AnyRow, uid: str) -> bool:
    return same_uid(uid, row.dav_uid) if row.dav_uid is not None else same_uid(uid, str(row.id))


def _content(content: TaskReplace, row: AnyRow | None) -> dict[str, Any]:
    """A PUT's task fields. CalDAV has no word for a recurrence `from` completion (set over
    REST): a client's unchanged RRULE and zone keep it."""
    fields = content.model_dump()
    sent, current = fields["recurrence"], None if row is None else row.recurrence
    if (
        sent is not None
        and isinstance(current, dict)
        and (sent["rule"], sent["time_zone"]) == (current.get("rule"), current.get("time_zone"))
    ):
        fields["recurrence"] = {**sent, "from": current.get("from", "due")}
    return fields


def _kept_text(kept: dict[str, str]) -> str | None:
    if len(kept) > MAX_KEPT_PROPERTIES or any(len(text) > MAX_KEPT_TEXT for text in kept.values()):
        raise _dav("cannot-modify-protected-property", "Too many or too long properties.")
    return orjson.dumps(kept).decode() if kept else None


def sync_token(seq: int, issued: datetime) -> str:
    return f"urn:x-todo-api:sync:{seq}:{int(issued.timestamp())}"


Named = TypeVar("Named", ListCreate, ListRename)


def _valid(model: type[Named], name: str) -> Named:
    try:
        return model(name=name)
    except ValidationError as error:
        raise InvalidParameterError(
            ["body", "displayname"], _first_problem(error), "value_error"
        ) from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "task"
    return f"{where}: {problem['msg']}"
