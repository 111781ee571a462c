"""Erasure: everything the service holds for one user, deleted in one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, delete
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.auth.models import users_table as users
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as task_tombstones
from todo_api.tasks.models import tasks_table as tasks

# The owner column of every table that keeps rows per token subject. A new table of user
# data is covered by erasure once its owner column is listed here: one line per table.
# Dropping the change counter too means a sync token issued before the erasure is ahead of
# the new counter, which /tasks/changes answers with 410. Tasks go before the lists they
# are in (the foreign key), and the default list is made again on the next request.
SUBJECT_COLUMNS: tuple[Column[str], ...] = (
    tasks.c.user_id,
    task_lists.c.user_id,
    list_tombstones.c.user_id,
    task_tombstones.c.user_id,
    idempotency_keys.c.user_id,
    change_counters.c.user_id,
)


async def erase_user(connection: AsyncConnection, subject: str) -> None:
    """Delete every row of `subject`, and its built-in account if it has one; run it inside
    `Database.transaction()` so that all of it commits together or not at all."""
    for owner in SUBJECT_COLUMNS:
        await connection.execute(delete(owner.table).where(owner == subject))
    account_id = built_in_account_id(subject)
    if account_id is not None:
        await connection.execute(delete(users).where(users.c.id == account_id))


def built_in_account_id(subject: str) -> uuid.UUID | None:
    """The account a subject names: the service's own tokens carry its id, canonically
    written. Any other spelling of a UUID is some other issuer's user, who owns other rows."""
    try:
        account_id = uuid.UUID(subject)
    except ValueError:
        return None
    return account_id if str(account_id) == subject else None
