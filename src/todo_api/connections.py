"""`RequestConnection`: the one connection of a request, taken when its first statement runs.

Every repository of a request shares it, so a service that calls two repositories (a task
write and its Idempotency-Key, later a list and its tasks) can make their statements one
transaction. A request that fails before its first statement (its body is invalid, say)
never takes a connection, and answers as it should even while the database is down.
Routes get it through `RequestConnectionDep`, which services' dependencies build on; code
outside a request wraps a connection it holds (`RequestConnection.held`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import run_in_transaction
from todo_api.state import resources_of

T = TypeVar("T")

# Opens the connection, when the first statement needs it.
Connect = Callable[[], Awaitable[AsyncConnection]]


class RequestConnection:
    __slots__ = ("_connect", "_connection", "dialect")

    def __init__(self, connect: Connect, dialect: str) -> None:
        self._connect = connect
        self._connection: AsyncConnection | None = None
        self.dialect = dialect

    @classmethod
    def held(cls, connection: AsyncConnection) -> RequestConnection:
        """A connection the caller already holds (scripts, tests, a transaction of its own)."""

        async def already_open() -> AsyncConnection:
            return connection

        return cls(already_open, connection.dialect.name)

    async def get(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await self._connect()
        return self._connection

    async def transaction(self, work: Callable[[], Awaitable[T]], *, safe_to_repeat: bool) -> T:
        """`work` as one transaction (`todo_api.database.run_in_transaction`): committed when
        it returns, rolled back if it raises, run once more after a deadlock or serialization
        failure (rolled back whole), or after a lost connection when the caller says the
        whole of it is `safe_to_repeat`."""
        return await run_in_transaction(await self.get(), work, safe_to_repeat=safe_to_repeat)

    @asynccontextmanager
    async def may_refuse(self) -> AsyncIterator[AsyncConnection]:
        """The connection, for a write that a constraint may refuse (a task's list that is
        not the owner's, a list name taken). Inside a transaction the write runs in a
        savepoint, so that a refusal undoes all of it (on SQLite, the counter's bump that
        precedes the refused statement too) and the transaction goes on: PostgreSQL would
        otherwise abort it, and the refusal could not be stored under an Idempotency-Key.
        In autocommit the write is a transaction of its own, with nothing else to keep."""
        connection = await self.get()
        if not _in_autocommit(connection):
            async with connection.begin_nested():
                yield connection
        else:
            yield connection


async def request_connection(request: Request) -> AsyncIterator[RequestConnection]:
    """The request's connection, shared by every service and repository of the request: taken
    from the pool at the first statement (after FastAPI has validated the request) and
    returned once the route is done."""
    database = resources_of(request).database
    async with AsyncExitStack() as stack:

        async def connect() -> AsyncConnection:
            return await stack.enter_async_context(database.connect())

        yield RequestConnection(connect, database.engine.dialect.name)


# scope="function": the connection goes back to the pool when the route function returns,
# not after the response has been sent.
RequestConnectionDep = Annotated[RequestConnection, Depends(request_connection, scope="function")]


def _in_autocommit(connection: AsyncConnection) -> bool:
    # The engine's default; `in_transaction` leaves it for a transaction and sets it back.
    sync_connection = connection.sync_connection
    options = sync_connection.get_execution_options() if sync_connection else {}
    return bool(options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT")
