"""The `app_passwords` table: one row per password a user made for a calendar app."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Index, String, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime
from todo_api.lengths import LIST_NAME_MAX_LENGTH, SUBJECT_MAX_LENGTH

# A SHA-256 digest in hexadecimal.
SECRET_HASH_LENGTH = 64


class AppPassword(SQLModel, table=True):
    __tablename__: ClassVar[str] = "app_passwords"
    __table_args__ = (
        # How a sign-in finds its row: by the digest of the password given, which names at
        # most one row (secrets.py says why a fast digest, and why this look-up is safe).
        UniqueConstraint("secret_hash"),
        # A user's passwords, listed and counted.
        Index("ix_app_passwords_user_id_created_at", "user_id", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    name: str = Field(sa_type=String(LIST_NAME_MAX_LENGTH), nullable=False)
    # The user name to sign in with, as shown when the password was made: the built-in
    # account's email, else the subject.
    username: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    # What a sign-in's user name is compared with: an email lower-cased (addresses are
    # ASCII, so SQL's lower() and Python's agree), a subject as it is.
    username_key: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    secret_hash: str = Field(sa_type=String(SECRET_HASH_LENGTH), nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


app_passwords_table = cast(Table, AppPassword.__table__)  # type: ignore[attr-defined]
