"""Recurring tasks: `tasks.recurrence_rule`, `_time_zone`, `_from` and `_local_time`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Safe on a live PostgreSQL with many tasks:
1. The four columns are added nullable and without a default: PostgreSQL records them in
   the catalogue without rewriting or scanning the table, under a moment's lock.
2. The check that a recurrence is all four columns or none, with a due date, is added
   NOT VALID (a moment's lock, no scan), then validated in a transaction of its own, which
   reads the table under a lock that lets reads and writes go on. Every existing task has
   no recurrence, so it passes.

Version 3 instances before this revision keep working throughout: they never write the new
columns. SQLite (single process, embedded) rebuilds `tasks` with the check in one go.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK_NAME = "ck_tasks_recurrence"
# The service's own (tasks/models.py), copied so that this revision never changes with it.
CHECK = (
    "(recurrence_rule IS NULL AND recurrence_time_zone IS NULL AND recurrence_from IS NULL"
    " AND recurrence_local_time IS NULL)"
    " OR (recurrence_rule IS NOT NULL AND recurrence_time_zone IS NOT NULL"
    " AND recurrence_from IN ('due', 'completion') AND recurrence_local_time IS NOT NULL"
    " AND due_at IS NOT NULL)"
)
COLUMNS = (
    sa.Column("recurrence_rule", sa.String(length=500), nullable=True),
    sa.Column("recurrence_time_zone", sa.String(length=64), nullable=True),
    sa.Column("recurrence_from", sa.String(length=10), nullable=True),
    sa.Column("recurrence_local_time", sa.Time(), nullable=True),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in COLUMNS:
            op.add_column("tasks", column)
        op.execute(f"ALTER TABLE tasks ADD CONSTRAINT {CHECK_NAME} CHECK ({CHECK}) NOT VALID")
        # Validating in a transaction of its own keeps the catalogue change's lock short.
        with op.get_context().autocommit_block():
            op.execute(f"ALTER TABLE tasks VALIDATE CONSTRAINT {CHECK_NAME}")
        return
    with op.batch_alter_table("tasks", recreate="always") as batch:
        for column in COLUMNS:
            batch.add_column(column)
        batch.create_check_constraint("recurrence", sa.text(CHECK))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        for column in reversed(COLUMNS):
            batch.drop_column(column.name)
