"""Priority, due date, tags and version on tasks; the per-user change counter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Safe on a live PostgreSQL: each new column has a constant default, which PostgreSQL 11 and
later record in the catalogue without rewriting the table, so the ALTERs hold their lock
only for a moment; the GIN index is built CONCURRENTLY, outside the migration's
transaction, so writes go on while it builds.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAGS_GIN_INDEX = "ix_tasks_tags"


def upgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL keeps tags as text[]; SQLite, which has no arrays, as a JSON text array.
    tags_type: sa.types.TypeEngine[Any] = (
        postgresql.ARRAY(sa.Text()) if on_postgresql else sa.JSON()
    )
    empty_tags = "'{}'::text[]" if on_postgresql else "'[]'"
    op.add_column(
        "tasks",
        sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column("tasks", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("tags", tags_type, server_default=sa.text(empty_tags), nullable=False),
    )
    op.add_column(
        "tasks", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_table(
        "change_counters",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_change_counters")),
    )
    if on_postgresql:
        # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
        with op.get_context().autocommit_block():
            op.create_index(
                TAGS_GIN_INDEX,
                "tasks",
                ["tags"],
                postgresql_using="gin",
                postgresql_concurrently=True,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(TAGS_GIN_INDEX, table_name="tasks", postgresql_concurrently=True)
    op.drop_table("change_counters")
    # SQLite rebuilds the table for a dropped column; PostgreSQL drops them in place.
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("version")
        batch.drop_column("tags")
        batch.drop_column("due_at")
        batch.drop_column("priority")
