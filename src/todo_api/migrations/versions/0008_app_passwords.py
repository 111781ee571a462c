"""App passwords: the `app_passwords` table, what calendar apps sign in to `/dav/` with.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Safe on a live PostgreSQL: one short transaction that creates a new, empty table and its
indexes; no existing table is read, rewritten or locked. Version 2 and earlier version 3
instances never touch the table, so they run on through and after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_passwords",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("username_key", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_passwords")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_app_passwords_secret_hash")),
    )
    op.create_index(
        "ix_app_passwords_user_id_created_at", "app_passwords", ["user_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_app_passwords_user_id_created_at", table_name="app_passwords")
    op.drop_table("app_passwords")
