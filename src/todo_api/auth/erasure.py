"""Erasure: everything the service holds for one user, deleted in one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, delete
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.auth.models import users_table as users
from todo_api.tasks.models import tasks_table as tasks

# The owner column of every table that keeps rows per token subject. A new table of user
# data is covered by erasure once its owner column is listed here: one line per table (the
# sync tombstones and the stored idempotent responses belong here when they are added).
SUBJECT_COLUMNS: tuple[Column[str], ...] = (tasks.c.user_id,)


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
