"""`TaskRepository`: one user's task rows, every statement scoped by owner.

It runs the statements of `statements.py` (writes) and `queries.py` (reads) on the request's
connection and returns rows; what a row or a miss means (404, 403, 412, a replayed write) is
decided by the service (service.py). Each method is one statement on PostgreSQL, and on the
autocommit connection of `Database.connect()` costs one round trip.

Each method runs its statement once more on a fresh connection, after a lost connection,
when a second run is safe: a read always (it changes nothing); a write when the caller says
it is `safe_to_repeat` (the service knows which are).

A write that puts a task into a list (`insert`, `update` with a `list_id`) raises
IntegrityError when the list is not one of the owner's (the foreign key on (user_id,
list_id)), in a savepoint when the request runs a transaction
(`RequestConnection.may_refuse`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Row

from todo_api.connections import RequestConnection
from todo_api.database import execute, fetch_all
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.queries import (
    FIND_TASK,
    GET_TASK,
    TAG_COUNTS,
    Keyset,
    changes_statement,
    list_statements,
)
from todo_api.tasks.schemas import TaskSort
from todo_api.tasks.statements import (
    DELETE_TASKS_OF_LIST,
    TAKE_NUMBERS,
    TASK_FIELDS,
    TASK_TOMBSTONE,
    VersionedWrite,
    insert_task,
    run_write,
    toggle_task,
    update_task,
)
from todo_api.tasks.subtrees import (
    AFTER_SIBLING,
    ANCESTRY,
    FIRST_SIBLING,
    INSERT_NUMBERED,
    PLACE_TASK,
    RELIST_DESCENDANTS,
    RENUMBER,
    SIBLINGS,
    relist_late_followers,
    run_delete,
)

AnyRow = Row[*tuple[Any, ...]]
# Where a keyset page starts: the previous page's last sort value and task id.
After = tuple[Any, uuid.UUID]


def task_fields(row: Sequence[Any]) -> dict[str, Any]:
    """A task row (`TASK_COLUMNS` first) as a dict of a task response's fields. A page's rows
    carry one more column (the total) after the task's own."""
    return dict(zip(TASK_FIELDS, row, strict=False))


class TaskRepository:
    """The tasks of `owner`, on the request's connection (taken at the first statement)."""

    __slots__ = ("connection", "owner")

    def __init__(self, connection: RequestConnection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    @property
    def dialect(self) -> str:
        return self.connection.dialect

    async def insert(self, values: dict[str, Any], *, safe_to_repeat: bool) -> AnyRow | None:
        """A new task of the owner from its column `values`; its row."""
        params = {**values, "user_id": self.owner}
        return await self._write(insert_task(), params, safe_to_repeat, into_list=True)

    async def update(
        self,
        task_id: uuid.UUID,
        fields: dict[str, Any],
        completed: bool | None,
        *,
        now: datetime,
        versions: tuple[int, ...] | None,
        safe_to_repeat: bool,
        only_if_not_recurring: bool = False,
    ) -> AnyRow | None:
        """Set `fields` (and `completed`, when not None) of the task, if it is the owner's and
        (with `versions`) at one of those versions (and, `only_if_not_recurring`, has no
        recurrence); its new row, or None."""
        # A move alone, to the list the task is in, matches nothing (statements.update_task).
        moving_only = completed is None and set(fields) == {"list_id"}
        write = update_task(
            frozenset(fields), completed, versions is not None, moving_only, only_if_not_recurring
        )
        params = {f"new_{field}": value for field, value in fields.items()}
        params["task_id"], params["now"] = task_id, now
        if versions is not None:
            params["versions"] = list(versions)
        row = await self._write(write, params, safe_to_repeat, into_list="list_id" in fields)
        if row is not None and row._mapping.get("followers_late"):
            await relist_late_followers(await self.connection.get(), params)
        return row

    async def toggle(
        self,
        task_id: uuid.UUID,
        *,
        now: datetime,
        versions: tuple[int, ...] | None,
        safe_to_repeat: bool,
    ) -> AnyRow | None:
        write = toggle_task(versions is not None)
        return await self._write_one(write, task_id, {}, now, versions, safe_to_repeat)

    async def delete(
        self,
        task_id: uuid.UUID,
        *,
        now: datetime,
        versions: tuple[int, ...] | None,
        safe_to_repeat: bool,
    ) -> list[Any]:
        """Delete the task and its subtasks, each recording a tombstone; the deleted ids
        (none when the owner has no such task at those versions)."""
        params: dict[str, Any] = {"owner": self.owner, "task_id": task_id, "now": now}
        if versions is not None:
            params["versions"] = list(versions)
        connection = await self.connection.get()
        return await run_delete(
            connection, params, conditional=versions is not None, safe_to_repeat=safe_to_repeat
        )

    # Inside a transaction that took the owner's number (placement.py):

    async def take_numbers(self, count: int) -> int:
        """The next `count` numbers of the owner's change sequence (the last is returned),
        holding the counter until the transaction ends."""
        connection = await self.connection.get()
        last = await connection.scalar(
            TAKE_NUMBERS[self.dialect], {"owner": self.owner, "by": count}
        )
        return int(last)

    async def insert_numbered(self, values: dict[str, Any]) -> AnyRow | None:
        """A new task with its `version` and `position` given."""
        connection = await self.connection.get()
        params = {**values, "user_id": self.owner}
        return (await connection.execute(INSERT_NUMBERED, params)).first()

    async def ancestry(self, task_id: uuid.UUID, moved: uuid.UUID | None = None) -> list[AnyRow]:
        """The owner's task, then its ancestors: (id, list_id, moved_height) each, the last
        the levels the owner's task `moved` and its subtasks span; none when the owner has no
        task `task_id`."""
        params = {"owner": self.owner, "task_id": task_id, "moved_id": moved}
        return await self._read(ANCESTRY, params)

    async def siblings(
        self, list_id: uuid.UUID, parent_id: uuid.UUID | None, moved: uuid.UUID
    ) -> list[AnyRow]:
        """(id, position) of the tasks in (list_id, parent_id) but `moved`, in order."""
        return await self._read(SIBLINGS, self._group(list_id, parent_id, moved))

    async def first_sibling(
        self, list_id: uuid.UUID, parent_id: uuid.UUID | None, moved: uuid.UUID
    ) -> AnyRow | None:
        return _first(await self._read(FIRST_SIBLING, self._group(list_id, parent_id, moved)))

    async def after_sibling(self, moved: uuid.UUID, after: uuid.UUID) -> AnyRow | None:
        """The owner's task `after` (list_id, parent_id, position) and `next_position`, the
        key of its next sibling but `moved` (None: it is the last)."""
        params = {"owner": self.owner, "task_id": moved, "after_id": after}
        return _first(await self._read(AFTER_SIBLING, params))

    async def place(
        self,
        task_id: uuid.UUID,
        list_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        position: str,
        *,
        version: int,
        now: datetime,
        into_list: bool,
    ) -> AnyRow | None:
        """Put the task at (list_id, parent_id, position); with `into_list` (another list
        than its own), IntegrityError when that list is not one of the owner's."""
        params = {
            "owner": self.owner,
            "task_id": task_id,
            "new_list_id": list_id,
            "new_parent_id": parent_id,
            "new_position": position,
            "version": version,
            "now": now,
        }
        if not into_list:
            connection = await self.connection.get()
            return (await connection.execute(PLACE_TASK, params)).first()
        async with self.connection.may_refuse() as connection:
            return (await connection.execute(PLACE_TASK, params)).first()

    async def relist_descendants(
        self, task_id: uuid.UUID, list_id: uuid.UUID, version: int, now: datetime
    ) -> None:
        connection = await self.connection.get()
        params = {"owner": self.owner, "task_id": task_id, "new_list_id": list_id}
        await connection.execute(RELIST_DESCENDANTS, {**params, "version": version, "now": now})

    async def renumber(self, order: list[tuple[uuid.UUID, str, int]], now: datetime) -> None:
        """Give each (id, position, version) of `order`."""
        connection = await self.connection.get()
        await connection.execute(
            RENUMBER,
            [
                {
                    "owner": self.owner,
                    "sibling_id": task_id,
                    "new_position": key,
                    "version": n,
                    "now": now,
                }
                for task_id, key, n in order
            ],
        )

    def _group(
        self, list_id: uuid.UUID, parent_id: uuid.UUID | None, moved: uuid.UUID
    ) -> dict[str, Any]:
        return {"owner": self.owner, "list_id": list_id, "parent_id": parent_id, "task_id": moved}

    async def delete_in_list(self, list_id: uuid.UUID, *, first_seq: int, now: datetime) -> int:
        """Inside a transaction that took the owner's number `first_seq` (and so holds the
        counter): delete the tasks of the list, each leaving a tombstone numbered from
        `first_seq` on; the counter moves past them. The next number still free for the
        transaction's own use (`first_seq` itself when the list held no task)."""
        connection = await self.connection.get()
        params = {"owner": self.owner, "list_id": list_id}
        gone = list((await connection.execute(DELETE_TASKS_OF_LIST, params)).scalars())
        if not gone:
            return first_seq
        await connection.execute(
            TASK_TOMBSTONE,
            [
                {"owner": self.owner, "seq": first_seq + number, "task_id": task_id, "now": now}
                for number, task_id in enumerate(gone)
            ],
        )
        last: int = await connection.scalar(
            TAKE_NUMBERS[self.dialect], {"owner": self.owner, "by": len(gone)}
        )
        return last

    async def get(self, task_id: uuid.UUID) -> AnyRow | None:
        return _first(await self._read(GET_TASK, {"owner": self.owner, "task_id": task_id}))

    async def find(self, task_id: uuid.UUID) -> AnyRow | None:
        """The task whoever owns it, with its `owner`: what tells 403 from 404 after a miss."""
        return _first(await self._read(FIND_TASK, {"task_id": task_id}))

    async def page(
        self,
        filters: TaskFilters,
        sort: TaskSort,
        *,
        limit: int,
        offset: int,
        after: After | None = None,
    ) -> list[AnyRow]:
        """Up to `limit` rows in `sort` order, each with the `total` of rows that match."""
        params: dict[str, Any] = {
            "owner": self.owner,
            "limit": limit,
            "offset": offset,
            **filters.params(),
        }
        keyset: Keyset | None = None
        if after is not None:
            params["after_value"], params["after_id"] = after
            keyset = "null" if after[0] is None else "value"
        page, _count = list_statements(self.dialect, filters.shape(), sort, keyset)
        return await self._read(page, params)

    async def count(self, filters: TaskFilters, sort: TaskSort) -> int:
        _page, count = list_statements(self.dialect, filters.shape(), sort, None)
        rows = await self._read(count, {"owner": self.owner, **filters.params()})
        total: int = rows[0][0]
        return total

    async def tag_counts(self) -> list[AnyRow]:
        """(name, count) of the owner's tags, in code point order."""
        return await self._read(TAG_COUNTS[self.dialect], {"owner": self.owner})

    async def changes(
        self, since: int, after_id: uuid.UUID, limit: int, *, with_deletions: bool
    ) -> list[AnyRow]:
        """Up to `limit` changes after (since, after_id), and the counter's value (see
        `changes_statement`)."""
        params = {
            "owner": self.owner,
            "since": since,
            "after_id": after_id,
            "limit_plus_one": limit,
        }
        connection = await self.connection.get()
        # A read: run again if its connection is lost.
        result = await execute(
            connection, changes_statement(with_deletions), params, safe_to_repeat=True
        )
        return list(result.all())

    async def _write_one(
        self,
        write: VersionedWrite,
        task_id: uuid.UUID,
        params: dict[str, Any],
        now: datetime,
        versions: tuple[int, ...] | None,
        safe_to_repeat: bool,
    ) -> AnyRow | None:
        params["task_id"] = task_id
        params["now"] = now
        if versions is not None:
            params["versions"] = list(versions)
        return await self._write(write, params, safe_to_repeat)

    async def _write(
        self,
        write: VersionedWrite,
        params: dict[str, Any],
        safe_to_repeat: bool,
        *,
        into_list: bool = False,
    ) -> AnyRow | None:
        params["owner"] = self.owner
        if not into_list:
            connection = await self.connection.get()
            return await run_write(connection, write, params, safe_to_repeat=safe_to_repeat)
        async with self.connection.may_refuse() as connection:
            return await run_write(connection, write, params, safe_to_repeat=safe_to_repeat)

    async def _read(self, statement: Executable, params: dict[str, Any]) -> list[AnyRow]:
        # A read changes nothing: running it again is always safe.
        connection = await self.connection.get()
        return await fetch_all(connection, statement, params, safe_to_repeat=True)


def _first(rows: list[AnyRow]) -> AnyRow | None:
    return rows[0] if rows else None
