"""The `users` table of built-in accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Index, String, Table, func
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime
from todo_api.lengths import EMAIL_MAX_LENGTH

# Every Argon2id hash pwdlib writes ($argon2id$v=19$m=...,t=...,p=...$salt$hash) fits easily.
PASSWORD_HASH_MAX_LENGTH = 255
EMAIL_UNIQUE_INDEX = "uq_users_email_lower"


class User(SQLModel, table=True):
    __tablename__: ClassVar[str] = "users"

    id: uuid.UUID = Field(primary_key=True)
    # Stored as the user typed it once normalised (domain lower-cased); uniqueness and
    # look-ups go through lower(email), so "Alice@x.io" and "alice@x.io" are one account.
    email: str = Field(sa_type=String(EMAIL_MAX_LENGTH), nullable=False)
    password_hash: str = Field(sa_type=String(PASSWORD_HASH_MAX_LENGTH), nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


users_table = cast(Table, User.__table__)  # type: ignore[attr-defined]

# An expression index: both SQLite and PostgreSQL enforce uniqueness on lower(email) and use
# it for `WHERE lower(email) = lower(:email)`, with no citext extension needed.
Index(EMAIL_UNIQUE_INDEX, func.lower(users_table.c.email), unique=True)
