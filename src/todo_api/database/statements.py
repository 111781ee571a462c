"""How statements run: `execute` and `fetch_all` (once more after a deadlock, a
serialization failure, or a lost connection when safe), `in_transaction` and
`run_in_transaction` for work that must be atomic."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import Executable
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database.resilience import is_conflict, request_deadline, sqlstate

log = structlog.get_logger(__name__)

T = TypeVar("T")

CONFLICT_PAUSE_SECONDS = (0.01, 0.05)


@asynccontextmanager
async def in_transaction(connection: AsyncConnection) -> AsyncIterator[None]:
    """Make the block's statements on a connection of `Database.connect()` one transaction:
    committed when the block ends, rolled back if it raises; autocommit again afterwards,
    for whatever the connection runs next. Inside `Database.transaction()` the block simply
    joins the transaction already open."""
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    autocommit = options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT"
    if not autocommit and connection.in_transaction():
        yield
        return
    if connection.in_transaction():
        # In autocommit SQLAlchemy still tracks a transaction once a statement ran; ending
        # it sends nothing to the database.
        await connection.commit()
    await connection.execution_options(isolation_level=connection.dialect.default_isolation_level)
    try:
        async with connection.begin():
            if connection.dialect.name == "sqlite":
                # pysqlite would begin only before the first write; a read first must be in
                # the transaction too, with the write lock taken up front.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield
    finally:
        if not connection.invalidated:
            await connection.execution_options(isolation_level="AUTOCOMMIT")


def _in_autocommit(connection: AsyncConnection) -> bool:
    """Whether the connection runs each statement as its own transaction: the engine's
    default, which `in_transaction` leaves and then restores (explicitly, as an option)."""
    sync_connection = connection.sync_connection
    if sync_connection is None:
        return False
    options = sync_connection.get_execution_options()
    return bool(options.get("isolation_level", "AUTOCOMMIT") == "AUTOCOMMIT")


def _has_time() -> bool:
    deadline = request_deadline.get()
    return deadline is None or asyncio.get_running_loop().time() < deadline


def _lost(error: DBAPIError) -> bool:
    """The connection was lost (not refused by the database: a constraint, a statement
    timeout) and the request still has time: a connection cut by the request deadline is
    not lost, it was given up."""
    return error.connection_invalidated and _has_time()


def _worth_running_again(error: DBAPIError, *, safe_to_repeat: bool) -> bool:
    """Whether work that failed with `error`, started afresh from its beginning, may run
    once more: after a deadlock or a serialization failure always, since the database
    rolled all of it back; after a lost connection only if the caller says it is
    `safe_to_repeat`, since it may have committed before the connection went."""
    if is_conflict(error):
        return _has_time()
    return safe_to_repeat and _lost(error)


async def _before_running_again(connection: AsyncConnection, error: DBAPIError, what: str) -> None:
    # Imported here: prometheus-client must not be imported before `serve` has set up the
    # metrics folder of its workers (see todo_api.metrics), and this module is, by Alembic.
    from todo_api.metrics import DB_CONFLICT_RETRIES, DB_STATEMENT_RETRIES

    if is_conflict(error):
        code = sqlstate(error)
        DB_CONFLICT_RETRIES.labels(sqlstate=code).inc()
        log.warning(f"database conflict rolled back the {what}; running it again", sqlstate=code)
    else:
        DB_STATEMENT_RETRIES.inc()
        log.warning(
            f"database connection lost mid-{what}; running it again",
            error=type(error.orig).__name__,
        )
    # Ends the failed transaction (SQLAlchemy's own bookkeeping, in autocommit); after a
    # lost connection the next statement checks out a fresh one, under the same deadline.
    await connection.rollback()
    if is_conflict(error):
        # A pause of 10 to 50 ms before the second run: the transaction that won still has to
        # take the locks it was waiting for; run again at once, the same work can take them
        # first and collide the same way (seen in CI, the deadlock test on a loaded machine).
        await asyncio.sleep(random.uniform(*CONFLICT_PAUSE_SECONDS))  # noqa: S311 (not a secret)


async def execute(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any] | None = None,
    *,
    safe_to_repeat: bool,
) -> CursorResult[*tuple[Any, ...]]:
    """`connection.execute`, run once more when it fails in a way a second run may mend:
    a deadlock or serialization failure (40P01, 40001), which PostgreSQL rolled back; or a
    lost connection, on a fresh one, if the caller says the statement is `safe_to_repeat`:
    a read, or a write whose second run cannot apply it twice. An unprotected write that
    lost its connection stays one attempt: it may have committed before the connection
    went, and answers 503. Inside a transaction nothing is repeated per statement: the
    earlier statements were lost too (see `run_in_transaction` for repeating a whole
    transaction)."""
    return await _run_again_if_worth_it(
        connection, lambda: connection.execute(statement, parameters), safe_to_repeat
    )


async def _run_again_if_worth_it(
    connection: AsyncConnection, run: Callable[[], Awaitable[T]], safe_to_repeat: bool
) -> T:
    try:
        return await run()
    except DBAPIError as error:
        if not (
            _in_autocommit(connection)
            and _worth_running_again(error, safe_to_repeat=safe_to_repeat)
        ):
            raise
        await _before_running_again(connection, error, "statement")
    return await run()


async def fetch_all(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any],
    *,
    safe_to_repeat: bool,
) -> list[Row[Any]]:
    """The rows of `statement`, run as `execute` runs it (once more where that may mend a
    failure)."""
    result = await execute(connection, statement, parameters, safe_to_repeat=safe_to_repeat)
    return list(result.all()) if result.returns_rows else []


async def run_in_transaction(
    connection: AsyncConnection, work: Callable[[], Awaitable[T]], *, safe_to_repeat: bool
) -> T:
    """`work` in one transaction on `connection` (`in_transaction`), run once more from its
    start when the database rolled it back for a deadlock or a serialization failure, or
    when the connection is lost under it and the caller says it is `safe_to_repeat`: its
    first run either rolled back with the lost connection, or committed and left a trace
    the second run finds (an Idempotency-Key's stored response). `work` therefore does
    nothing but run statements on `connection`. Joining a transaction already open
    (`Database.transaction()`), it is never repeated: the open transaction's earlier
    statements are lost too."""
    owns_transaction = _in_autocommit(connection)
    try:
        async with in_transaction(connection):
            return await work()
    except DBAPIError as error:
        if not (owns_transaction and _worth_running_again(error, safe_to_repeat=safe_to_repeat)):
            raise
        await _before_running_again(connection, error, "transaction")
    async with in_transaction(connection):
        return await work()
