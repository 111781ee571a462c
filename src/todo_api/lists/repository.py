"""`ListRepository`: one user's task lists over one connection; statements and rows, no rules.

Every write takes the next number of its owner's change sequence (`change_counters`) as the
list's version, as task writes do (tasks/repository.py explains the order this gives and why
sync relies on it): on PostgreSQL in a CTE of the write itself, on SQLite as a statement of
its own in the write's transaction. Where the two databases need different SQL, both forms
sit side by side here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Insert,
    String,
    Update,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, execute, in_transaction
from todo_api.lists.models import DEFAULT_LIST_NAME, default_list_id
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.lists.schemas import name_key
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as task_tombstones
from todo_api.tasks.models import tasks_table as tasks

AnyRow = Row[Any]
Connect = Callable[[], Awaitable[AsyncConnection]]

_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(task_lists.c.version, String) + _QUOTE).label("etag")
LIST_COLUMNS = (
    task_lists.c.id,
    task_lists.c.name,
    task_lists.c.is_default,
    task_lists.c.created_at,
    task_lists.c.updated_at,
    _ETAG,
)
LIST_FIELDS = tuple(column.key for column in LIST_COLUMNS)

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNER: BindParameter[str] = bindparam("owner")
_OWNED: ColumnElement[bool] = and_(
    task_lists.c.id == bindparam("list_id", type_=task_lists.c.id.type),
    task_lists.c.user_id == _OWNER,
)
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    _OWNED, task_lists.c.version.in_(bindparam("versions", expanding=True))
)

# The owner's change counter, moved on by :by numbers; the new value is the last of them.
_BUMP_VALUES = {"user_id": _OWNER, "last_seq": bindparam("by")}
_BUMP_SET = {"last_seq": change_counters.c.last_seq + bindparam("by")}
_SEQUENCE = (
    postgresql.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
    .cte("seq")
)
_BUMP = {
    name: dialect.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_SET_COUNTER = (
    change_counters.update()
    .where(change_counters.c.user_id == _OWNER)
    .values(last_seq=bindparam("last_seq"))
)


def _next_version(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return select(_SEQUENCE.c.last_seq).scalar_subquery()
    return bindparam("version", type_=task_lists.c.version.type)


def _versioned(dialect: str, statement: Insert | Update) -> Executable:
    return statement.add_cte(_SEQUENCE) if dialect == "postgresql" else statement


@cache
def _all_statement(dialect: str) -> Executable:
    # Code point order on both: SQLite compares text byte by byte (UTF-8), PostgreSQL so
    # under "C".
    name = task_lists.c.name.collate("C") if dialect == "postgresql" else task_lists.c.name
    return (
        select(*LIST_COLUMNS)
        .where(task_lists.c.user_id == _OWNER)
        .order_by(task_lists.c.is_default.desc(), name, task_lists.c.id)
    )


_GET = select(*LIST_COLUMNS).where(_OWNED)
# After a miss: whose the list is, whether it is a default list, and its version.
_FOUND = select(
    task_lists.c.user_id.label("owner"), task_lists.c.is_default, task_lists.c.version
).where(task_lists.c.id == bindparam("list_id", type_=task_lists.c.id.type))
_COUNT = select(func.count()).select_from(task_lists).where(task_lists.c.user_id == _OWNER)


def _new_list_values(version: ColumnElement[int]) -> dict[str, Any]:
    return {
        "id": bindparam("list_id", type_=task_lists.c.id.type),
        "user_id": _OWNER,
        "name": bindparam("name", type_=task_lists.c.name.type),
        "name_key": bindparam("name_key", type_=task_lists.c.name_key.type),
        "is_default": bindparam("is_default", type_=task_lists.c.is_default.type),
        "created_at": _NOW,
        "updated_at": _NOW,
        "version": version,
    }


_GIVEN_VERSION = bindparam("version", type_=task_lists.c.version.type)


@cache
def _insert_default_statement(dialect: str, numbered: bool) -> Executable:
    """The default list, unless the owner has it: the primary key (the id is a function of
    the owner) makes a concurrent second insert do nothing. Numbered by the statement
    itself, or (`numbered`) given its number by a transaction that holds the counter."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    version = _GIVEN_VERSION if numbered else _next_version(dialect)
    statement = (
        insert(task_lists)
        .values(_new_list_values(version))
        .on_conflict_do_nothing()
        .returning(*LIST_COLUMNS)
    )
    return statement if numbered else _versioned(dialect, statement)


# A new list, unless the owner has :most already; its version is given (`create` numbers it
# inside its transaction, after taking the counter's lock).
_INSERT_UNLESS_FULL = (
    task_lists.insert()
    .from_select(
        ["id", "user_id", "name", "name_key", "is_default", "created_at", "updated_at", "version"],
        select(*_new_list_values(_GIVEN_VERSION).values()).where(
            _COUNT.scalar_subquery() < bindparam("most")
        ),
    )
    .returning(*LIST_COLUMNS)
)


@cache
def _rename_statement(dialect: str, conditional: bool) -> Executable:
    update = (
        task_lists.update()
        .where(_OWNED_AT_VERSION if conditional else _OWNED)
        .values(
            name=bindparam("name"),
            name_key=bindparam("name_key"),
            updated_at=_NOW,
            version=_next_version(dialect),
        )
        .returning(*LIST_COLUMNS)
    )
    return _versioned(dialect, update)


_LOCKED_LIST = select(task_lists.c.is_default, task_lists.c.version).where(_OWNED)
_DELETE_TASKS_OF_LIST = (
    tasks.delete()
    .where(
        tasks.c.user_id == _OWNER,
        tasks.c.list_id == bindparam("list_id", type_=tasks.c.list_id.type),
    )
    .returning(tasks.c.id)
)
_TASK_TOMBSTONE = task_tombstones.insert().values(
    user_id=_OWNER, seq=bindparam("seq"), task_id=bindparam("task_id"), deleted_at=_NOW
)
_LIST_TOMBSTONE = list_tombstones.insert().values(
    user_id=_OWNER,
    seq=bindparam("seq"),
    list_id=bindparam("list_id", type_=list_tombstones.c.list_id.type),
    deleted_at=_NOW,
)
_DELETE_LIST = task_lists.delete().where(_OWNED)


@asynccontextmanager
async def statement_may_fail(connection: AsyncConnection) -> AsyncIterator[None]:
    """Around a statement that a constraint may refuse, inside a transaction: PostgreSQL
    then aborts the whole transaction, so the statement runs in a savepoint and the
    transaction goes on (to store the refusal under an Idempotency-Key, say). SQLite undoes
    only the refused statement; in autocommit there is nothing else to keep."""
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    autocommit = options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT"
    if connection.dialect.name == "postgresql" and not autocommit and connection.in_transaction():
        async with connection.begin_nested():
            yield
    else:
        yield


class ListRepository:
    """The lists of `owner`, on a connection taken when the first statement runs."""

    __slots__ = ("_connect", "_connection", "dialect", "owner")

    def __init__(self, connect: Connect, dialect: str, owner: str) -> None:
        self._connect = connect
        self._connection: AsyncConnection | None = None
        self.dialect = dialect
        self.owner = owner

    @classmethod
    def on(cls, connection: AsyncConnection, owner: str) -> ListRepository:
        async def held() -> AsyncConnection:
            return connection

        return cls(held, connection.dialect.name, owner)

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await self._connect()
        return self._connection

    async def all(self) -> list[AnyRow]:
        return await self._read(_all_statement(self.dialect), {"owner": self.owner})

    async def get(self, list_id: uuid.UUID) -> AnyRow | None:
        return _first(await self._read(_GET, {"owner": self.owner, "list_id": list_id}))

    async def found(self, list_id: uuid.UUID) -> AnyRow | None:
        """Any user's list with this id: its owner, whether it is a default, its version."""
        return _first(await self._read(_FOUND, {"list_id": list_id}))

    async def insert_default(self, now: datetime) -> AnyRow | None:
        """The default list, made unless it exists; its row when this call made it."""
        params = self._new_list(default_list_id(self.owner), DEFAULT_LIST_NAME, now, True)
        return await self._write(_insert_default_statement(self.dialect, False), params)

    async def insert_unless_full(
        self, list_id: uuid.UUID, name: str, now: datetime, most: int
    ) -> AnyRow | None:
        """A new list, and the default list first if it is missing, in one transaction that
        holds the owner's change counter: none of the owner's writes can come between the
        count and the insert. None when the owner has `most` lists already; IntegrityError
        when the name is taken."""
        connection = await self.connection()
        async with in_transaction(connection):
            bump = _BUMP[self.dialect]
            last = await connection.scalar(bump, {"owner": self.owner, "by": 2})
            assert last is not None, "the counter's upsert returns its value"
            default = self._new_list(default_list_id(self.owner), DEFAULT_LIST_NAME, now, True)
            await connection.execute(
                _insert_default_statement(self.dialect, True), {**default, "version": last - 1}
            )
            params = {**self._new_list(list_id, name, now, False), "version": last, "most": most}
            async with statement_may_fail(connection):
                return (await connection.execute(_INSERT_UNLESS_FULL, params)).first()

    async def rename(
        self,
        list_id: uuid.UUID,
        name: str,
        now: datetime,
        versions: Sequence[int] | None,
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
        statement = _rename_statement(self.dialect, versions is not None)
        return await self._write(statement, params)

    async def lock_for_delete(self) -> int:
        """Inside a transaction: take the owner's change counter (every write of the owner
        then waits for this transaction) and the next number."""
        connection = await self.connection()
        last = await connection.scalar(_BUMP[self.dialect], {"owner": self.owner, "by": 1})
        assert last is not None, "the counter's upsert returns its value"
        return int(last)

    async def locked_list(self, list_id: uuid.UUID) -> AnyRow | None:
        params = {"owner": self.owner, "list_id": list_id}
        return _first(await self._read(_LOCKED_LIST, params))

    async def delete_with_tasks(self, list_id: uuid.UUID, first_seq: int, now: datetime) -> None:
        """Inside the transaction of `lock_for_delete`, which took `first_seq`: the list's
        tasks and the list go, each leaving a tombstone numbered in order from `first_seq`
        (the tasks first, then the list), and the counter moves past the last number."""
        connection = await self.connection()
        params: dict[str, Any] = {"owner": self.owner, "list_id": list_id, "now": now}
        task_ids = list((await connection.execute(_DELETE_TASKS_OF_LIST, params)).scalars())
        if task_ids:
            await connection.execute(
                _TASK_TOMBSTONE,
                [
                    {"owner": self.owner, "now": now, "seq": first_seq + number, "task_id": task_id}
                    for number, task_id in enumerate(task_ids)
                ],
            )
        last_seq = first_seq + len(task_ids)
        await connection.execute(_LIST_TOMBSTONE, {**params, "seq": last_seq})
        await connection.execute(_DELETE_LIST, params)
        if task_ids:
            await connection.execute(_SET_COUNTER, {"owner": self.owner, "last_seq": last_seq})

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

    async def _write(self, statement: Executable, params: dict[str, Any]) -> AnyRow | None:
        connection = await self.connection()
        if self.dialect == "postgresql":
            params["by"] = 1
            async with statement_may_fail(connection):
                result = await execute(connection, statement, params, safe_to_repeat=False)
                return result.first()
        async with in_transaction(connection):
            params["version"] = await connection.scalar(
                _BUMP["sqlite"], {"owner": self.owner, "by": 1}
            )
            return (await connection.execute(statement, params)).first()

    async def _read(self, statement: Executable, params: dict[str, Any]) -> list[AnyRow]:
        connection = await self.connection()
        result = await execute(connection, statement, params, safe_to_repeat=True)
        return list(result.all())


def _first(rows: list[AnyRow]) -> AnyRow | None:
    return rows[0] if rows else None
