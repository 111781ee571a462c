"""The `task_lists` table, the tombstones of deleted lists, and the default list's id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import BigInteger, Index, String, Table, Text, UniqueConstraint, text
from sqlmodel import Column, Field, SQLModel

from todo_api.database import UTCDateTime
from todo_api.lengths import (
    DAV_NAME_MAX_LENGTH,
    LIST_NAME_KEY_MAX_LENGTH,
    LIST_NAME_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
)

DEFAULT_LIST_NAME = "Tasks"
# The default list's id is a function of its owner: uuid5 of the subject in this namespace.
# Making it is then an insert that a second, concurrent one cannot repeat (the primary key
# refuses it), and a task write names it without looking it up (see lists/service.py).
# Migration 0005 computes the same ids: never change this value.
DEFAULT_LIST_NAMESPACE = uuid.UUID("6f1b0e4c-3a52-5d8e-9b7a-2c4d8e1f0a93")


def default_list_id(owner: str) -> uuid.UUID:
    return uuid.uuid5(DEFAULT_LIST_NAMESPACE, owner)


class TaskList(SQLModel, table=True):
    __tablename__: ClassVar[str] = "task_lists"
    __table_args__ = (
        # A name is unique per user ignoring case: the key is the name case-folded in
        # Python, so both databases compare it the same way (neither's lower() is
        # str.casefold()).
        UniqueConstraint("user_id", "name_key"),
        # What tasks.(user_id, list_id) refers to: a task's list is always its owner's.
        UniqueConstraint("user_id", "id"),
        # At most one default list per user, whatever the code above it does.
        Index(
            "uq_task_lists_user_id_default",
            "user_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
        # The URL segment a CalDAV client chose with MKCALENDAR (dav/).
        Index("uq_task_lists_user_id_dav_name", "user_id", "dav_name", unique=True),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    name: str = Field(sa_type=String(LIST_NAME_MAX_LENGTH), nullable=False)
    name_key: str = Field(sa_type=String(LIST_NAME_KEY_MAX_LENGTH), nullable=False)
    is_default: bool = Field(default=False, nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # The list's place in its owner's change sequence (tasks.models.ChangeCounter), as for
    # tasks: the ETag comes from it, and `/tasks/changes` reads lists by it.
    version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # The URL segment a CalDAV client chose with MKCALENDAR; NULL: the list's id.
    dav_name: str | None = Field(default=None, sa_type=String(DAV_NAME_MAX_LENGTH))
    # Properties a CalDAV client set that the service does not model (colour, order), JSON.
    dav_properties: str | None = Field(default=None, sa_type=Text)


class ListTombstone(SQLModel, table=True):
    """A deleted list, remembered for `/tasks/changes` for SYNC_TOMBSTONE_DAYS."""

    __tablename__: ClassVar[str] = "list_tombstones"
    # The pruner deletes the oldest first.
    __table_args__ = (Index("ix_list_tombstones_deleted_at", "deleted_at"),)

    # Numbered from the owner's change counter, like the tombstones of tasks.
    user_id: str = Field(primary_key=True, sa_type=String(SUBJECT_MAX_LENGTH))
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    list_id: uuid.UUID = Field(nullable=False)
    deleted_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


task_lists_table = cast(Table, TaskList.__table__)  # type: ignore[attr-defined]
list_tombstones_table = cast(Table, ListTombstone.__table__)  # type: ignore[attr-defined]
