"""Stored responses of Idempotency-Key requests, and tombstones of deleted tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Two new, empty tables, and the index that `/tasks/changes` reads a user's changed tasks by.
Safe on a live PostgreSQL: the index is built CONCURRENTLY, outside the migration's
transaction, so writes go on while it builds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGES_INDEX = "ix_tasks_user_id_version_id"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_table(
        "task_tombstones",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_task_tombstones")),
    )
    op.create_index("ix_task_tombstones_deleted_at", "task_tombstones", ["deleted_at"])
    if op.get_bind().dialect.name == "postgresql":
        # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
        with op.get_context().autocommit_block():
            op.create_index(
                CHANGES_INDEX, "tasks", ["user_id", "version", "id"], postgresql_concurrently=True
            )
    else:
        op.create_index(CHANGES_INDEX, "tasks", ["user_id", "version", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(CHANGES_INDEX, table_name="tasks", postgresql_concurrently=True)
    else:
        op.drop_index(CHANGES_INDEX, table_name="tasks")
    op.drop_index("ix_task_tombstones_deleted_at", table_name="task_tombstones")
    op.drop_table("task_tombstones")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
