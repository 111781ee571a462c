"""`UserRepository`: the SQL of built-in accounts (registration, sign-in) and of erasure.

Argon2 takes far longer than a query and may queue behind other sign-ins, so the service
hashes between statements: each method here takes a connection briefly, for its statement
(erasure, for its one transaction), and returns rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from todo_api.app_passwords.models import app_passwords_table as app_passwords
from todo_api.auth.models import users_table as users
from todo_api.database import Database, execute
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as task_tombstones
from todo_api.tasks.models import tasks_table as tasks

# The owner column of every table that keeps rows per token subject. A new table of user
# data is covered by erasure once its owner column is listed here: one line per table.
# Dropping the change counter too means a sync token issued before the erasure is ahead of
# the new counter, which /tasks/changes answers with 410. Tasks go before the lists they are
# in (the foreign key); the default list is made again on the next request that needs it.
SUBJECT_COLUMNS: tuple[Column[str], ...] = (
    tasks.c.user_id,
    task_lists.c.user_id,
    list_tombstones.c.user_id,
    task_tombstones.c.user_id,
    idempotency_keys.c.user_id,
    change_counters.c.user_id,
    app_passwords.c.user_id,
)

_REGISTERED = (users.c.id, users.c.email, users.c.created_at)


class UserRepository:
    __slots__ = ("database",)

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, email: str, password_hash: str, created_at: datetime) -> Row[Any] | None:
        """The new account's (id, email, created_at); None when the email is taken.

        The unique index decides, not a prior SELECT: two concurrent registrations of one
        address cannot both pass a check and both insert.
        """
        statement = (
            users.insert()
            .values(
                id=uuid.uuid4(), email=email, password_hash=password_hash, created_at=created_at
            )
            .returning(*_REGISTERED)
        )
        async with self.database.connect() as connection:
            try:
                return (await connection.execute(statement)).one()
            except IntegrityError:
                return None

    async def by_email(self, email: str) -> Row[Any] | None:
        """(id, email, password_hash) of the account with this address, compared ignoring case."""
        statement = select(users.c.id, users.c.email, users.c.password_hash).where(
            # lower() on both sides, so both match the index and fold case identically.
            func.lower(users.c.email) == func.lower(email)
        )
        async with self.database.connect() as connection:
            return (await execute(connection, statement, safe_to_repeat=True)).first()

    async def replace_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> None:
        """Store `new_hash`, unless the stored hash is no longer `old_hash`."""
        async with self.database.connect() as connection:
            await connection.execute(
                users.update()
                .where(users.c.id == user_id, users.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )

    async def erase(self, subject: str, account_id: uuid.UUID | None) -> None:
        """Delete every row of `subject`, and the account `account_id` if given, in one
        transaction: all of it commits together or not at all."""
        async with self.database.transaction() as connection:
            for owner in SUBJECT_COLUMNS:
                await connection.execute(delete(owner.table).where(owner == subject))
            if account_id is not None:
                await connection.execute(delete(users).where(users.c.id == account_id))
