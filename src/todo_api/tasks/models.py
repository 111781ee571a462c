"""The `tasks` table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Index, String, Table, Text
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime
from todo_api.lengths import SUBJECT_MAX_LENGTH, TITLE_MAX_LENGTH


class Task(SQLModel, table=True):
    __tablename__: ClassVar[str] = "tasks"
    __table_args__ = (
        # Serve the owner-scoped list in either direction of its sort keys without a sort
        # step; `id` breaks ties so pages are stable.
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    title: str = Field(sa_type=String(TITLE_MAX_LENGTH), nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    completed: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


tasks_table = cast(Table, Task.__table__)  # type: ignore[attr-defined]
