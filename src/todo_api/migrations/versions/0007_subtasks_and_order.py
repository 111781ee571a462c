"""Subtasks and manual order: `tasks.parent_id` and `tasks.position`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Safe on a live PostgreSQL with many tasks:
1. One short transaction of catalogue changes: `parent_id` added nullable without a default,
   and `position` added NOT NULL with the constant default 'a' (the key of every task that
   predates manual order, tasks/positions.py). PostgreSQL 11 and later record a constant
   default in the catalogue without rewriting or scanning the table, so the lock is held
   for a moment only. `position` compares under the "C" collation, by code point, as on
   SQLite.
2. The two indexes are built CONCURRENTLY: writes go on meanwhile.

Nothing is backfilled: existing tasks are top-level, in the order of their ids until
someone moves one (a move between two equal keys renumbers that sibling group). Version 2
instances keep working throughout: they neither read nor write the new columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNORDERED_POSITION = "a"
INDEXES = {
    "ix_tasks_parent_id_position_id": ["parent_id", "position", "id"],
    "ix_tasks_list_id_position_id": ["list_id", "position", "id"],
}


def upgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    position_type = sa.String(length=255, collation="C") if on_postgresql else sa.String(255)
    op.add_column("tasks", sa.Column("parent_id", sa.Uuid(), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("position", position_type, nullable=False, server_default=UNORDERED_POSITION),
    )
    if not on_postgresql:
        for name, columns in INDEXES.items():
            op.create_index(name, "tasks", columns)
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES.items():
            op.create_index(name, "tasks", columns, postgresql_concurrently=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name in INDEXES:
                op.drop_index(name, table_name="tasks", postgresql_concurrently=True)
    else:
        for name in INDEXES:
            op.drop_index(name, table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("position")
        batch.drop_column("parent_id")
