"""The `tasks` table and the per-user change counter."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel

from todo_api.database import UTCDateTime, built_only_on
from todo_api.lengths import DAV_NAME_MAX_LENGTH, SUBJECT_MAX_LENGTH, TITLE_MAX_LENGTH
from todo_api.lists.models import task_lists_table
from todo_api.tasks.positions import MAX_POSITION_LENGTH, UNORDERED_POSITION
from todo_api.tasks.recurrence import RULE_MAX_LENGTH, TIME_ZONE_MAX_LENGTH
from todo_api.tasks.schemas import PRIORITY_NAMES, PRIORITY_RANKS, Priority

TAGS_GIN_INDEX = "ix_tasks_tags"


class PriorityLevel(TypeDecorator[str]):
    """A priority name stored as its rank (0 none .. 3 high), so ORDER BY sorts by rank."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else PRIORITY_RANKS[cast(Priority, value)]

    def process_result_value(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else PRIORITY_NAMES[value]


# Tag storage, measured with bench/tag_storage.py on 100,000 tasks (half of them one user's,
# a rare tag on 0.2 % of those), medians of three runs on the shared machine: PostgreSQL
# text[] with a GIN index reads a page of 50 in 0.10 ms and finds the rare tag's page through
# the index in 1.7 ms, and a write of tags stays one statement. A join table finds that page
# faster (0.2 ms) and counts tags faster (10 ms against 47 ms), but reads every page 3x
# slower (0.34 ms), is 1.7x the size, and turns each write of tags into several statements:
# the page and the write are the hot paths. jsonb with a GIN index reads pages slower than
# text[] (0.17 ms) and filters no faster. SQLite has no arrays: a JSON text array read with
# json_each is the counterpart (no index: the rare tag's page scans the owner's rows, 23 to
# 29 ms for a user with 50,000 tasks), keeping one shape of data on both databases.
TagArray = ARRAY(Text).with_variant(JSON(), "sqlite")
# SQLite compares text by code point already; PostgreSQL does under the "C" collation.
PositionKey = String(MAX_POSITION_LENGTH).with_variant(
    String(MAX_POSITION_LENGTH, collation="C"), "postgresql"
)


class EmptyTags(ColumnElement[Any]):
    """The server default of `tags` on each database: an empty array."""

    inherit_cache = True


@compiles(EmptyTags, "postgresql")
def _empty_text_array(_element: EmptyTags, _compiler: SQLCompiler, **_kw: Any) -> str:
    return "'{}'::text[]"


@compiles(EmptyTags)
def _empty_json_array(_element: EmptyTags, _compiler: SQLCompiler, **_kw: Any) -> str:
    return "'[]'"


# A recurrence is all four columns or none, and needs a due date (its first occurrence).
RECURRENCE_CHECK = (
    "(recurrence_rule IS NULL AND recurrence_time_zone IS NULL AND recurrence_from IS NULL"
    " AND recurrence_local_time IS NULL)"
    " OR (recurrence_rule IS NOT NULL AND recurrence_time_zone IS NOT NULL"
    " AND recurrence_from IN ('due', 'completion') AND recurrence_local_time IS NOT NULL"
    " AND due_at IS NOT NULL)"
)


class Task(SQLModel, table=True):
    __tablename__: ClassVar[str] = "tasks"
    __table_args__ = (
        # Serve the owner-scoped list in either direction of its sort keys without a sort
        # step; `id` breaks ties so pages are stable.
        Index("ix_tasks_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
        # `/tasks/changes` reads a user's tasks after a position (version, id).
        Index("ix_tasks_user_id_version_id", "user_id", "version", "id"),
        # `tags @> ARRAY[...]` (the tag filter) on PostgreSQL; SQLite has no GIN.
        built_only_on("postgresql", Index(TAGS_GIN_INDEX, "tags", postgresql_using="gin")),
        # `GET /tasks?list_id=` in its default order, a list's deletion, and the check of
        # the key below when a list goes.
        Index("ix_tasks_list_id_created_at_id", "list_id", "created_at", "id"),
        # A task's list is one of its owner's: a foreign or unknown list_id is refused by
        # the database itself, in the statement that writes the task.
        ForeignKeyConstraint(
            ["user_id", "list_id"], [task_lists_table.c.user_id, task_lists_table.c.id]
        ),
        # A task's children in manual order, and the walk down a subtree (a deletion, a
        # move across lists); top-level tasks share parent_id NULL and are told apart by
        # list_id.
        Index("ix_tasks_parent_id_position_id", "parent_id", "position", "id"),
        Index("ix_tasks_list_id_position_id", "list_id", "position", "id"),
        CheckConstraint(RECURRENCE_CHECK, name="recurrence"),
        # A CalDAV resource by its name in its collection (dav/).
        Index("ix_tasks_list_id_dav_name", "list_id", "dav_name"),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), nullable=False)
    list_id: uuid.UUID = Field(nullable=False)
    # The parent task (same owner, same list), or None for a top-level task. No foreign key:
    # a deletion removes the subtree itself, leaving a tombstone for each task.
    parent_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The place among its siblings, compared by code point on both databases (positions.py).
    position: str = Field(
        default=UNORDERED_POSITION,
        sa_column=Column(PositionKey, nullable=False, server_default=UNORDERED_POSITION),
    )
    title: str = Field(sa_type=String(TITLE_MAX_LENGTH), nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    completed: bool = Field(default=False, nullable=False)
    priority: str = Field(
        default="none", sa_column=Column(PriorityLevel(), nullable=False, server_default="0")
    )
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(TagArray, nullable=False, server_default=EmptyTags()),
    )
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # tasks/recurrence.py: null, or the rule, its zone and `due` or `completion`.
    recurrence_rule: str | None = Field(default=None, sa_type=String(RULE_MAX_LENGTH))
    recurrence_time_zone: str | None = Field(default=None, sa_type=String(TIME_ZONE_MAX_LENGTH))
    recurrence_from: str | None = Field(default=None, sa_type=String(10))
    # The local time of day its occurrences keep in its zone (tasks/occurrences.py).
    recurrence_local_time: time | None = Field(default=None, sa_type=Time)
    # The task's place in its owner's change sequence (change_counters), set by every
    # write: the ETag is derived from it, and it only ever grows.
    version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # CalDAV (dav/): the resource name and UID a client chose with PUT (NULL: `<id>.ics`
    # and the id), and the VCALENDAR it sent, which keeps what the columns above do not.
    dav_name: str | None = Field(default=None, sa_type=String(DAV_NAME_MAX_LENGTH))
    dav_uid: str | None = Field(default=None, sa_type=String(DAV_NAME_MAX_LENGTH))
    ical: str | None = Field(default=None, sa_type=Text)
    ical_fields: str | None = Field(default=None, sa_type=Text)
    # The parent UID a client's RELATED-TO named that the calendar did not hold (yet).
    dav_parent_uid: str | None = Field(default=None, sa_type=String(DAV_NAME_MAX_LENGTH))


class ChangeCounter(SQLModel, table=True):
    """Each user's last change sequence number; every task write takes the next one."""

    __tablename__: ClassVar[str] = "change_counters"

    user_id: str = Field(sa_type=String(SUBJECT_MAX_LENGTH), primary_key=True)
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


tasks_table = cast(Table, Task.__table__)  # type: ignore[attr-defined]
change_counters_table = cast(Table, ChangeCounter.__table__)  # type: ignore[attr-defined]


class TaskTombstone(SQLModel, table=True):
    """A deleted task, remembered for `/tasks/changes` for SYNC_TOMBSTONE_DAYS."""

    __tablename__: ClassVar[str] = "task_tombstones"
    # The pruner deletes the oldest first.
    __table_args__ = (Index("ix_task_tombstones_deleted_at", "deleted_at"),)

    # (user, seq) is unique, since each write takes its own number from the user's counter,
    # and it is the order in which `/tasks/changes` reads a user's deletions.
    user_id: str = Field(primary_key=True, sa_type=String(SUBJECT_MAX_LENGTH))
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    task_id: uuid.UUID = Field(nullable=False)
    deleted_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Where the task was, for a CalDAV collection's sync report (NULL: a list's deletion).
    list_id: uuid.UUID | None = Field(default=None)
    dav_name: str | None = Field(default=None, sa_type=String(DAV_NAME_MAX_LENGTH))


task_tombstones_table = cast(Table, TaskTombstone.__table__)  # type: ignore[attr-defined]
