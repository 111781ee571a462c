"""`DavRepository`: the reads CalDAV needs beyond the task and list services' own, each
one statement scoped by owner, in bulk: a collection's members, a multiget's resources by
name, a sync report's changes, each come from one statement however many resources they
hold (names in chunks of `CHUNK`, within every database's limit on bound parameters).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Select,
    and_,
    bindparam,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from todo_api.connections import RequestConnection
from todo_api.database import execute, fetch_all
from todo_api.dav.paths import task_id_of
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.repository import AnyRow
from todo_api.tasks.statements import TASK_COLUMNS

CHUNK = 500
OWNER: BindParameter[str] = bindparam("owner")
LIST_ID = bindparam("list_id", type_=tasks.c.list_id.type)

_PARENT = tasks.alias("parent")
# The UID a client gave the task's parent (None: the parent's UID is its id, or no parent).
_PARENT_UID = (
    select(_PARENT.c.dav_uid)
    .where(_PARENT.c.id == tasks.c.parent_id, _PARENT.c.user_id == tasks.c.user_id)
    .scalar_subquery()
    .label("parent_dav_uid")
)
# A member of a collection: the task's response fields, then its name, UID, its parent's
# UID and (when the caller wants the calendar data) the client's text.
_MEMBER = (*TASK_COLUMNS, tasks.c.dav_name, tasks.c.dav_uid, _PARENT_UID)
_MEMBER_WITH_DATA = (*_MEMBER, tasks.c.ical, tasks.c.ical_fields)
_IN_LIST = and_(tasks.c.user_id == OWNER, tasks.c.list_id == LIST_ID)

_COUNTER = select(change_counters.c.last_seq).where(change_counters.c.user_id == OWNER)
# A list, with the owner's change counter riding along (the collection's ctag and sync
# token), so a collection's properties cost one statement.
_LISTS = select(
    task_lists.c.id,
    task_lists.c.name,
    task_lists.c.is_default,
    task_lists.c.dav_name,
    task_lists.c.version,
    task_lists.c.dav_properties,
    _COUNTER.scalar_subquery().label("counter"),
).where(task_lists.c.user_id == OWNER)
_ALL_LISTS = _LISTS.order_by(task_lists.c.is_default.desc(), task_lists.c.name)
_AT_SEGMENT = or_(
    task_lists.c.dav_name == bindparam("segment"),
    and_(
        task_lists.c.dav_name.is_(None),
        task_lists.c.id == bindparam("segment_id", type_=task_lists.c.id.type),
    ),
)
_LIST_BY_SEGMENT = _LISTS.where(_AT_SEGMENT)
_NAMED = or_(
    tasks.c.dav_name == bindparam("name"),
    and_(tasks.c.dav_name.is_(None), tasks.c.id == bindparam("name_id", type_=tasks.c.id.type)),
)


def _holding(uid: str) -> Any:
    """The task whose UID is the bound `uid`: its client's, else its id."""
    return or_(
        tasks.c.dav_uid == bindparam(uid),
        and_(
            tasks.c.dav_uid.is_(None),
            tasks.c.id == bindparam(f"{uid}_id", type_=tasks.c.id.type),
        ),
    )


# Top-level tasks whose client named the UID as their parent before the calendar held it.
_ORPHAN_OF = and_(tasks.c.dav_parent_uid == bindparam("uid"), tasks.c.parent_id.is_(None))
# A PUT's look-up: the task at the name, the one holding the UID, the parent the client's
# RELATED-TO names, and the tasks waiting for this UID as their parent, in one statement.
_NAMED_OR_HOLDING = select(*_MEMBER, tasks.c.dav_parent_uid).where(
    _IN_LIST, or_(_NAMED, _holding("uid"), _holding("parent_uid"), _ORPHAN_OF)
)
# One resource by its collection's segment and its own name, in one statement.
_RESOURCE = (
    select(*_MEMBER_WITH_DATA)
    .join(task_lists, and_(task_lists.c.id == tasks.c.list_id, task_lists.c.user_id == OWNER))
    .where(tasks.c.user_id == OWNER, _AT_SEGMENT, _NAMED)
)
_NAME_LIST = update(task_lists).where(
    task_lists.c.user_id == OWNER,
    task_lists.c.id == bindparam("list_id", type_=task_lists.c.id.type),
)


def _members(with_data: bool) -> Select[Any]:
    return select(*(_MEMBER_WITH_DATA if with_data else _MEMBER)).where(_IN_LIST)


def _named(with_data: bool) -> Select[Any]:
    names: BindParameter[list[str]] = bindparam("names", expanding=True)
    ids = bindparam("ids", expanding=True, type_=tasks.c.id.type)
    return _members(with_data).where(
        or_(
            tasks.c.dav_name.in_(names),
            and_(tasks.c.dav_name.is_(None), tasks.c.id.in_(ids)),
        )
    )


def _changes(with_data: bool) -> Any:
    """The members of a list changed after :since; then, as rows without data, the tasks
    that left it (deleted, or moved to another list) after :since."""
    since: BindParameter[int] = bindparam("since")
    changed = _members(with_data).where(tasks.c.version > since)
    padding = [null()] * (len(_MEMBER_WITH_DATA if with_data else _MEMBER) - 4)
    gone = select(
        tombstones.c.task_id, tombstones.c.dav_name, tombstones.c.seq, literal(True), *padding
    ).where(
        tombstones.c.user_id == OWNER,
        tombstones.c.seq > since,
        or_(tombstones.c.list_id == LIST_ID, tombstones.c.list_id.is_(None)),
    )
    moved = select(tasks.c.id, tasks.c.dav_name, tasks.c.version, literal(True), *padding).where(
        tasks.c.user_id == OWNER, tasks.c.list_id != LIST_ID, tasks.c.version > since
    )
    return changed, union_all(gone, moved)


class DavRepository:
    __slots__ = ("connection", "owner")

    def __init__(self, connection: RequestConnection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    async def lists(self) -> list[AnyRow]:
        return await self._read(_ALL_LISTS, {})

    async def list_by_segment(self, segment: str) -> AnyRow | None:
        rows = await self._read(_LIST_BY_SEGMENT, _segment(segment))
        return rows[0] if rows else None

    async def resource(self, segment: str, name: str) -> AnyRow | None:
        """The task at `name` in the collection at `segment`, with its stored text."""
        params = {**_segment(segment), "name": name, "name_id": task_id_of(name)}
        rows = await self._read(_RESOURCE, params)
        return rows[0] if rows else None

    async def name_list(self, list_id: uuid.UUID, segment: str) -> bool:
        """Give a list the URL segment a client chose; False when the owner has a list at
        that segment already."""
        try:
            async with self.connection.may_refuse() as connection:
                await execute(
                    connection,
                    _NAME_LIST.values(dav_name=bindparam("segment")),
                    {"owner": self.owner, "list_id": list_id, "segment": segment},
                    safe_to_repeat=True,
                )
        except IntegrityError:
            return False
        return True

    async def keep_properties(self, list_id: uuid.UUID, properties: str | None) -> None:
        """Store the properties a client set on a calendar that no column models."""
        connection = await self.connection.get()
        await execute(
            connection,
            _NAME_LIST.values(dav_properties=bindparam("properties")),
            {"owner": self.owner, "list_id": list_id, "properties": properties},
            safe_to_repeat=True,
        )

    async def counter(self) -> int:
        rows = await self._read(_COUNTER, {})
        return int(rows[0][0]) if rows else 0

    async def members(self, list_id: uuid.UUID, *, with_data: bool) -> list[AnyRow]:
        return await self._read(_members(with_data), {"list_id": list_id})

    async def named(
        self, list_id: uuid.UUID, names: Sequence[str], *, with_data: bool
    ) -> list[AnyRow]:
        """The members of a list with these resource names, in chunks of CHUNK names."""
        rows: list[AnyRow] = []
        for start in range(0, len(names), CHUNK):
            chunk = list(names[start : start + CHUNK])
            ids = [task_id for task_id in map(task_id_of, chunk) if task_id is not None]
            params = {"list_id": list_id, "names": chunk, "ids": ids}
            rows.extend(await self._read(_named(with_data), params))
        return rows

    async def named_or_holding(
        self, list_id: uuid.UUID, name: str, uid: str, parent_uid: str | None = None
    ) -> list[AnyRow]:
        """The members of a list at `name`, holding the UID `uid` or `parent_uid`, or
        waiting for `uid` as their parent (a PUT's look-up)."""
        params = {
            "list_id": list_id,
            "name": name,
            "name_id": task_id_of(name),
            "uid": uid,
            "uid_id": _id_of_uid(uid),
            "parent_uid": parent_uid,
            "parent_uid_id": None if parent_uid is None else _id_of_uid(parent_uid),
        }
        return await self._read(_NAMED_OR_HOLDING, params)

    async def changes(
        self, list_id: uuid.UUID, since: int, *, with_data: bool
    ) -> tuple[list[AnyRow], list[AnyRow]]:
        """(members changed after `since`, tasks that left the list after it): each of the
        latter is (id, dav_name, seq, True, ...)."""
        changed, gone = _changes(with_data)
        params = {"list_id": list_id, "since": since}
        return await self._read(changed, params), await self._read(gone, params)

    async def _read(self, statement: Any, params: dict[str, Any]) -> list[AnyRow]:
        connection = await self.connection.get()
        return await fetch_all(
            connection, statement, {"owner": self.owner, **params}, safe_to_repeat=True
        )


def _segment(segment: str) -> dict[str, Any]:
    try:
        segment_id: uuid.UUID | None = uuid.UUID(segment)
    except ValueError:
        segment_id = None
    return {"segment": segment, "segment_id": segment_id}


def _id_of_uid(uid: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(uid)
    except ValueError:
        return None
