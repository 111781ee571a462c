"""`ListRepository`: one user's list rows, every statement scoped by owner.

It runs the statements of `statements.py` on the request's connection and returns rows; what
a row or a miss means (404, 403, 409, 412) is decided by the service (service.py). A statement
that a constraint may refuse (a name taken) raises IntegrityError, in a savepoint when the
request runs a transaction (`RequestConnection.may_refuse`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Row

from todo_api.connections import RequestConnection
from todo_api.database import execute
from todo_api.lists.models import DEFAULT_LIST_NAME, default_list_id
from todo_api.lists.schemas import name_key
from todo_api.lists.statements import (
    DELETE_LIST,
    FIND_LIST,
    GET_LIST,
    INSERT_DEFAULT_LIST,
    INSERT_LIST_UNLESS_FULL,
    LIST_FIELDS,
    LIST_TOMBSTONE,
    LOCKED_LIST,
    all_lists,
    rename_list,
)
from todo_api.tasks.statements import TAKE_NUMBERS, run_write

AnyRow = Row[Any]


def list_fields(row: Sequence[Any]) -> dict[str, Any]:
    """A list row (`LIST_COLUMNS`) as a dict of a list response's fields."""
    return dict(zip(LIST_FIELDS, row, strict=True))


class ListRepository:
    """The lists of `owner`, on the request's connection (taken at the first statement)."""

    __slots__ = ("connection", "owner")

    def __init__(self, connection: RequestConnection, owner: str) -> None:
        self.connection = connection
        self.owner = owner

    @property
    def dialect(self) -> str:
        return self.connection.dialect

    async def all(self) -> list[AnyRow]:
        return await self._read(all_lists(self.dialect), {"owner": self.owner})

    async def get(self, list_id: uuid.UUID) -> AnyRow | None:
        return _first(await self._read(GET_LIST, {"owner": self.owner, "list_id": list_id}))

    async def find(self, list_id: uuid.UUID) -> AnyRow | None:
        """The list whoever owns it: its `owner`, `is_default` and `version`."""
        return _first(await self._read(FIND_LIST, {"list_id": list_id}))

    async def insert_default(self, now: datetime) -> None:
        """The owner's default list, unless it exists (concurrent calls make one)."""
        params = self._new_list(default_list_id(self.owner), DEFAULT_LIST_NAME, now, True)
        connection = await self.connection.get()
        await connection.execute(INSERT_DEFAULT_LIST[self.dialect], params)

    async def take_numbers(self, count: int) -> int:
        """Inside a transaction: the next `count` numbers of the owner's change sequence
        (the last of them is returned), holding the counter until the transaction ends."""
        connection = await self.connection.get()
        last = await connection.scalar(
            TAKE_NUMBERS[self.dialect], {"owner": self.owner, "by": count}
        )
        assert last is not None, "the counter's upsert returns its value"
        return int(last)

    async def insert_unless_full(
        self, list_id: uuid.UUID, name: str, now: datetime, *, version: int, most: int
    ) -> AnyRow | None:
        """Inside the transaction of `take_numbers`: a new list numbered `version`, unless the
        owner has `most` lists; IntegrityError when the name is taken."""
        params = {**self._new_list(list_id, name, now, False), "version": version, "most": most}
        async with self.connection.may_refuse() as connection:
            return (await connection.execute(INSERT_LIST_UNLESS_FULL, params)).first()

    async def rename(
        self, list_id: uuid.UUID, name: str, now: datetime, versions: tuple[int, ...] | None
    ) -> AnyRow | None:
        """The renamed list, or None when the owner has no such list (at those versions);
        IntegrityError when the name is taken."""
        params: dict[str, Any] = {
            "owner": self.owner,
            "list_id": list_id,
            "name": name,
            "name_key": name_key(name),
            "now": now,
        }
        if versions is not None:
            params["versions"] = list(versions)
        async with self.connection.may_refuse() as connection:
            return await run_write(
                connection, rename_list(versions is not None), params, safe_to_repeat=False
            )

    async def locked(self, list_id: uuid.UUID) -> AnyRow | None:
        """Inside the transaction of `take_numbers`: the owner's list (`is_default`,
        `version`), as no other write of the owner can change it until the end."""
        return _first(await self._read(LOCKED_LIST, {"owner": self.owner, "list_id": list_id}))

    async def delete(self, list_id: uuid.UUID, seq: int, now: datetime) -> None:
        """Inside the transaction of `take_numbers`: the list's tombstone numbered `seq`, and
        the list gone (its tasks went first)."""
        connection = await self.connection.get()
        params = {"owner": self.owner, "list_id": list_id, "seq": seq, "now": now}
        await connection.execute(LIST_TOMBSTONE, params)
        await connection.execute(DELETE_LIST, params)

    def _new_list(
        self, list_id: uuid.UUID, name: str, now: datetime, is_default: bool
    ) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "list_id": list_id,
            "name": name,
            "name_key": name_key(name),
            "is_default": is_default,
            "now": now,
        }

    async def _read(self, statement: Executable, params: dict[str, Any]) -> list[AnyRow]:
        # A read changes nothing: running it again after a lost connection is always safe.
        connection = await self.connection.get()
        result = await execute(connection, statement, params, safe_to_repeat=True)
        return list(result.all())


def _first(rows: list[AnyRow]) -> AnyRow | None:
    return rows[0] if rows else None
