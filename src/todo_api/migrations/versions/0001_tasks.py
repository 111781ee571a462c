"""Create the tasks table.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_user_id_created_at_id", "tasks", ["user_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_tasks_user_id_updated_at_id", "tasks", ["user_id", "updated_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_user_id_updated_at_id", table_name="tasks")
    op.drop_index("ix_tasks_user_id_created_at_id", table_name="tasks")
    op.drop_table("tasks")
