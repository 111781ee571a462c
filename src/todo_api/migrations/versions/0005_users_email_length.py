"""users.email is as long as the API accepts: EMAIL_MAX_LENGTH (254) instead of 320.

No stored address is longer: registration has always refused them. The case-insensitive
unique index is dropped and made again around the change, because SQLite changes a column by
copying the table, and that copy cannot carry an expression index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "uq_users_email_lower"


def _email_length(old: int, new: int) -> None:
    op.drop_index(_INDEX, table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "email",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
    op.create_index(_INDEX, "users", [sa.text("lower(email)")], unique=True)


def upgrade() -> None:
    _email_length(320, 254)


def downgrade() -> None:
    _email_length(254, 320)
