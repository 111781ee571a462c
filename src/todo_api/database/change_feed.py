"""Which users' data a SQLite connection changed, told to the process once it is released.

PostgreSQL tells every instance itself (NOTIFY from triggers on `change_counters`, migration
0009). SQLite has no such thing, and one process is its only writer that matters (embedded,
single instance), so the process tells itself, from one place below every writer: each of
the app's connections gets TEMP triggers on `change_counters` (every change that sync and
live updates report takes a number there) that call a function of this process, which
remembers the owner; when the connection goes back to the pool, its work is committed (or
rolled back, which makes a harmless extra hint) and the owners are published. TEMP triggers
live in the connection that made them: nothing is stored in the database file, so other
programs that open it (sqlite3, backups, migrations) never meet a function they lack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

_FUNCTION = "todo_changed"
_PENDING = "todo_changed_owners"
_ROW_OF = {"insert": "NEW", "update": "NEW", "delete": "OLD"}

Publish = Callable[[set[str]], None]


def install_sqlite_change_feed(engine: AsyncEngine, publish: Publish) -> None:
    """Call `publish` (on the running loop) with the owners whose counters a connection of
    `engine` moved, each time it returns to the pool."""
    loop = asyncio.get_running_loop()

    @event.listens_for(engine.sync_engine, "checkout")
    def _watch(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if _PENDING in record.info:
            return
        pending: set[str] = set()
        # Called by SQLite on its worker thread, inside the writing statement.
        dbapi_connection.create_function(_FUNCTION, 1, pending.add)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'change_counters'")
            if cursor.fetchone() is None:
                return  # not migrated yet: the next checkout looks again
            for kind, row in _ROW_OF.items():
                cursor.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS todo_changed_{kind} AFTER {kind.upper()} "
                    f"ON main.change_counters BEGIN SELECT {_FUNCTION}({row}.user_id); END"
                )
        finally:
            cursor.close()
        record.info[_PENDING] = pending

    @event.listens_for(engine.sync_engine, "checkin")
    def _publish(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        pending: set[str] | None = record.info.get(_PENDING)
        if not pending:
            return
        owners = set(pending)
        pending.clear()
        # A connection may be checked in from elsewhere (its finalizer); the loop may be gone.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(publish, owners)
