"""CalDAV resources: what a calendar client stored, and the names it chose.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

- `tasks.dav_name`, `tasks.dav_uid`: the resource name and the iCalendar UID a client chose
  when it created the task with PUT (NULL for a task made through the REST API, whose name
  is `<id>.ics` and UID its id); `tasks.ical`: the VCALENDAR text the client sent, so that
  what the service does not model (alarms, DTSTART, X- properties) comes back as sent;
  `tasks.ical_fields`: the task's fields as that text set them (JSON), so that a task no
  other front door changed since is answered with the text as sent, without parsing it.
- `task_lists.dav_name`: the URL segment a client chose with MKCALENDAR (NULL: the list's
  id), unique per user; `task_lists.dav_properties`: the properties a client set on the
  calendar that the service does not model (its colour, its order...), as JSON.
- `task_tombstones.list_id`, `task_tombstones.dav_name`: where a deleted task lived, so a
  collection's sync-collection report names the resource that went.

Safe on a live PostgreSQL: nullable columns without a default are catalogue changes (no
rewrite, no scan, a moment's lock); the two indexes are built CONCURRENTLY, so writes go
on meanwhile. Instances of the previous version keep working throughout: they never name
the new columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_NAME_INDEX = "ix_tasks_list_id_dav_name"
LIST_NAME_INDEX = "uq_task_lists_user_id_dav_name"


def upgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("tasks", sa.Column("dav_name", sa.String(length=255), nullable=True))
    op.add_column("tasks", sa.Column("dav_uid", sa.String(length=255), nullable=True))
    op.add_column("tasks", sa.Column("ical", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("ical_fields", sa.Text(), nullable=True))
    op.add_column("task_lists", sa.Column("dav_name", sa.String(length=255), nullable=True))
    op.add_column("task_lists", sa.Column("dav_properties", sa.Text(), nullable=True))
    op.add_column("task_tombstones", sa.Column("list_id", sa.Uuid(), nullable=True))
    op.add_column("task_tombstones", sa.Column("dav_name", sa.String(length=255), nullable=True))
    if not on_postgresql:
        op.create_index(TASK_NAME_INDEX, "tasks", ["list_id", "dav_name"])
        op.create_index(LIST_NAME_INDEX, "task_lists", ["user_id", "dav_name"], unique=True)
        return
    with op.get_context().autocommit_block():
        op.create_index(
            TASK_NAME_INDEX, "tasks", ["list_id", "dav_name"], postgresql_concurrently=True
        )
        op.create_index(
            LIST_NAME_INDEX,
            "task_lists",
            ["user_id", "dav_name"],
            unique=True,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    if on_postgresql:
        with op.get_context().autocommit_block():
            op.drop_index(LIST_NAME_INDEX, table_name="task_lists", postgresql_concurrently=True)
            op.drop_index(TASK_NAME_INDEX, table_name="tasks", postgresql_concurrently=True)
    else:
        op.drop_index(LIST_NAME_INDEX, table_name="task_lists")
        op.drop_index(TASK_NAME_INDEX, table_name="tasks")
    with op.batch_alter_table("task_tombstones") as batch:
        batch.drop_column("dav_name")
        batch.drop_column("list_id")
    with op.batch_alter_table("task_lists") as batch:
        batch.drop_column("dav_properties")
        batch.drop_column("dav_name")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("ical_fields")
        batch.drop_column("ical")
        batch.drop_column("dav_uid")
        batch.drop_column("dav_name")
