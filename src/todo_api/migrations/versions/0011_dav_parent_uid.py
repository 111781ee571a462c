"""CalDAV subtasks uploaded before their parent: the parent UID they named.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

- `tasks.dav_parent_uid`: the UID a client's `RELATED-TO;RELTYPE=PARENT` named when the
  calendar held no task with it (apps upload a child before its parent in one sync); NULL
  otherwise. When a task with that UID is created in the calendar, the PUT's look-up of
  the resource (dav/repository.py) finds these children in the same statement, and they
  become its subtasks.

Safe on a live PostgreSQL: a nullable column without a default is a catalogue change (no
rewrite, no scan, a moment's lock). No index: the look-up already reads the list's rows by
`list_id`, as it does for `dav_uid`. Instances of the previous version keep working: they
never name the column, and a child they store stays top-level as it did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("dav_parent_uid", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("dav_parent_uid")
