"""`AppPasswordRepository`: app-password rows on the request's connection.

Every statement but the sign-in is scoped by its owner; the sign-in is what finds the owner,
by the password's digest under the user name given. What a row or a miss means (404, 409,
a refused sign-in) is decided by the service.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from todo_api.app_passwords.statements import (
    ALL_PASSWORDS,
    DELETE_PASSWORD,
    INSERT_UNLESS_FULL,
    LOCK_OWNER,
    SIGN_IN,
)
from todo_api.connections import RequestConnection
from todo_api.database import execute

AnyRow = Row[Any]


class AppPasswordRepository:
    __slots__ = ("connection",)

    def __init__(self, connection: RequestConnection) -> None:
        self.connection = connection

    async def all(self, owner: str) -> list[AnyRow]:
        connection = await self.connection.get()
        result = await execute(connection, ALL_PASSWORDS, {"owner": owner}, safe_to_repeat=True)
        return list(result.all())

    async def insert_unless_full(
        self,
        owner: str,
        account_id: uuid.UUID | None,
        name: str,
        secret_hash: str,
        now: datetime,
        *,
        most: int,
    ) -> AnyRow | None:
        """The new password's (id, name, username, created_at), unless `owner` has `most`."""
        params = {
            "password_id": uuid.uuid4(),
            "owner": owner,
            "account_id": account_id,
            "name": name,
            "secret_hash": secret_hash,
            "now": now,
            "most": most,
        }
        lock = LOCK_OWNER[self.connection.dialect]
        connection = await self.connection.get()
        if lock is None:
            return (await connection.execute(INSERT_UNLESS_FULL, params)).first()

        async def insert_after_lock() -> AnyRow | None:
            await connection.execute(lock, params)
            return (await connection.execute(INSERT_UNLESS_FULL, params)).first()

        # Not repeated after a lost connection: it may have committed (503 then).
        return await self.connection.transaction(insert_after_lock, safe_to_repeat=False)

    async def delete(self, owner: str, password_id: uuid.UUID) -> bool:
        """Whether `owner` had this password (it is gone either way)."""
        connection = await self.connection.get()
        params = {"owner": owner, "password_id": password_id}
        # Not repeated after a lost connection: a second run would find the password gone
        # by the first and answer 404 for a revocation that worked (503 instead).
        result = await execute(connection, DELETE_PASSWORD, params, safe_to_repeat=False)
        return result.first() is not None

    async def sign_in(
        self, username_keys: list[str], secret_hash: str, now: datetime, stale_before: datetime
    ) -> str | None:
        """The owner of the password with this digest under one of these user-name keys, or
        None; its `last_used_at` set to `now` if it was before `stale_before`."""
        connection = await self.connection.get()
        params = {
            "username_keys": username_keys,
            "digest": secret_hash,
            "now": now,
            "stale_before": stale_before,
        }
        statement = SIGN_IN[self.connection.dialect]
        # Safe to repeat: a second run only records the same use again.
        result = await execute(connection, statement, params, safe_to_repeat=True)
        owner: str | None = result.scalar()
        return owner
