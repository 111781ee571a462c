"""The `idempotency_keys` table: one row per user and key, holding the first response."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Index, SmallInteger, String, Table, Text
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime
from todo_api.idempotency.keys import MAX_KEY_LENGTH
from todo_api.lengths import SUBJECT_MAX_LENGTH


class IdempotencyKey(SQLModel, table=True):
    __tablename__: ClassVar[str] = "idempotency_keys"
    # The background pruner deletes expired rows oldest first.
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    user_id: str = Field(primary_key=True, sa_type=String(SUBJECT_MAX_LENGTH))
    key: str = Field(primary_key=True, sa_type=String(MAX_KEY_LENGTH))
    # SHA-256 (hex) of method, path and canonical JSON body: a key reused for another request.
    request_hash: str = Field(sa_type=String(64), nullable=False)
    # The stored response. Null only inside the claiming transaction: the claim and the
    # response commit together, so a committed row always has them.
    status: int | None = Field(default=None, sa_type=SmallInteger, nullable=True)
    body: str | None = Field(default=None, sa_type=Text, nullable=True)
    headers: str | None = Field(default=None, sa_type=Text, nullable=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


idempotency_keys_table = cast(Table, IdempotencyKey.__table__)  # type: ignore[attr-defined]
