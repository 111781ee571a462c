"""The service's own housekeeping: expired idempotency responses, old tombstones and the
records of expired event tickets go.

A lifespan task of every process wakes about once a minute (with jitter, so that instances
spread out) and deletes expired rows in batches of a few hundred, each batch its own short
transaction: no request waits behind a long delete, and no cron job is needed. Several
instances may prune at once: each batch locks its rows with SKIP LOCKED, so pruners (and
claims taking over an expired key) pass each other instead of queueing, and a row that a
claim has just renewed no longer matches the outer condition, so it stays.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Delete, Table, bindparam, delete, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from todo_api.database import Database, UTCDateTime, utc_now
from todo_api.errors import DatabaseUnavailableError
from todo_api.events.models import used_event_tickets_table as used_event_tickets
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.tasks.models import task_tombstones_table as tombstones

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_SECONDS = 60.0
PRUNE_BATCH_ROWS = 500
# Tombstones outlive the tokens that need them by a day: a token's time and a deletion's time
# come from the clocks of different instances, and this absorbs any skew between them.
TOMBSTONE_GRACE = timedelta(days=1)

_CUTOFF = bindparam("cutoff", type_=UTCDateTime())


def _batch_delete(table: Table, table_keys: tuple[str, ...], time_column: str) -> Delete:
    keys = tuple_(*(table.c[name] for name in table_keys))
    moment = table.c[time_column]
    batch = (
        select(*(table.c[name] for name in table_keys))
        .where(moment <= _CUTOFF)
        .order_by(moment)
        .limit(PRUNE_BATCH_ROWS)
        .with_for_update(skip_locked=True)
    )
    # The outer condition is checked again on the row as it is when locked.
    return delete(table).where(keys.in_(batch), moment <= _CUTOFF)


_DELETE_EXPIRED_RESPONSES = _batch_delete(idempotency_keys, ("user_id", "key"), "expires_at")
_DELETE_OLD_TOMBSTONES = _batch_delete(tombstones, ("user_id", "seq"), "deleted_at")
_DELETE_OLD_LIST_TOMBSTONES = _batch_delete(list_tombstones, ("user_id", "seq"), "deleted_at")
_DELETE_EXPIRED_TICKETS = _batch_delete(used_event_tickets, ("ticket_id",), "expires_at")


async def prune_once(database: Database, now: datetime) -> dict[str, int]:
    """Delete everything expired at `now`, batch by batch; returns the rows deleted.

    Each batch is one statement on an autocommit connection: its own short transaction."""
    settings = database.settings
    tombstones_before = now - timedelta(days=settings.sync_tombstone_days) - TOMBSTONE_GRACE
    targets = {
        "idempotency_keys": (_DELETE_EXPIRED_RESPONSES, now),
        "task_tombstones": (_DELETE_OLD_TOMBSTONES, tombstones_before),
        "list_tombstones": (_DELETE_OLD_LIST_TOMBSTONES, tombstones_before),
        # Past its expiry a ticket is refused for its age: its row is no longer needed.
        "used_event_tickets": (_DELETE_EXPIRED_TICKETS, now),
    }
    deleted = dict.fromkeys(targets, 0)
    for name, (statement, cutoff) in targets.items():
        while True:
            async with database.connect() as connection:
                result = await connection.execute(statement, {"cutoff": cutoff})
            count = result.rowcount
            deleted[name] += count
            if count < PRUNE_BATCH_ROWS:
                break
            # Let requests in between batches.
            await asyncio.sleep(0)
    return deleted


async def prune_forever(database: Database) -> None:
    while True:
        await asyncio.sleep(PRUNE_INTERVAL_SECONDS * random.uniform(0.5, 1.5))  # noqa: S311
        try:
            deleted = await prune_once(database, utc_now())
        except (DatabaseUnavailableError, SQLAlchemyError, OSError, TimeoutError) as error:
            log.warning("pruning failed; trying again later", error=type(error).__name__)
            continue
        if any(deleted.values()):
            log.info("pruned expired rows", **deleted)
