"""The `tasks` table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import BigInteger, Index, String, Table, Text
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime


class Task(SQLModel, table=True):
    __tablename__: ClassVar[str] = "tasks"
    __table_args__ = (
        # Serve the owner-scoped list in either direction of its sort keys without a sort
        # step; `id` breaks ties so pages are stable.
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(sa_type=String(255), nullable=False)
    title: str = Field(sa_type=String(255), nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    completed: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


tasks_table = cast(Table, Task.__table__)  # type: ignore[attr-defined]


class TaskTombstone(SQLModel, table=True):
    """A deleted task, remembered for `/tasks/changes` for SYNC_TOMBSTONE_DAYS."""

    __tablename__: ClassVar[str] = "task_tombstones"
    # The pruner deletes the oldest first.
    __table_args__ = (Index("ix_task_tombstones_deleted_at", "deleted_at"),)

    # (user, seq) is unique, since each write takes its own number from the user's counter,
    # and it is the order in which `/tasks/changes` reads a user's deletions.
    user_id: str = Field(primary_key=True, sa_type=String(255))
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    task_id: uuid.UUID = Field(nullable=False)
    deleted_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


task_tombstones_table = cast(Table, TaskTombstone.__table__)  # type: ignore[attr-defined]
