"""Task lists: the `task_lists` table, `tasks.list_id`, every user's tasks in a default list.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Every owner of tasks gets a default list named "Tasks", with the id the service gives it
(uuid5 of the subject, lists/models.py), and every task goes into its owner's default list.

Safe on a live PostgreSQL with many tasks, step by step:
1. One short transaction of catalogue changes: the two new (empty) tables, and
   `tasks.list_id` added nullable and without a default, which PostgreSQL records without
   rewriting or scanning the table. `users.email` is narrowed to 254 here too: that
   rewrites `users`, a table of accounts, small beside `tasks`, and fails cleanly (nothing
   of this revision applied) should an address longer than the API accepts be stored.
2. The index on (list_id, created_at, id) is built CONCURRENTLY: writes go on meanwhile.
3. The backfill runs in autocommit: the default lists are inserted BATCH_ROWS owners at a
   time, then the tasks are pointed at them BATCH_ROWS tasks at a time, walking the primary
   key, so each batch is a short transaction of its own that locks only its rows; nothing
   waits long and no transaction grows with the table.
4. The foreign key (user_id, list_id) is added NOT VALID (a moment's lock, no scan) and then
   validated, which reads the table under a lock that lets reads and writes go on.
5. NOT NULL the same way: CHECK (list_id IS NOT NULL) NOT VALID; the tasks that version 2
   instances created during step 3 are swept into their owners' default lists; the check is
   validated (writes go on); SET NOT NULL then proves itself from the validated check
   without scanning (PostgreSQL 12 and later), holding its lock for a moment; the check goes.

Version 2 instances keep working through steps 1 to 4. From step 5 on their new tasks,
which carry no list_id, are refused: start the new version right after `todo-api migrate`,
as DEPLOY.md says. SQLite (single process, embedded) runs the same backfill, then rebuilds
`tasks` with the key and NOT NULL in one go.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_ROWS = 1000
# The service's own (lists/models.py), copied so that this revision never changes with it.
DEFAULT_LIST_NAMESPACE = uuid.UUID("6f1b0e4c-3a52-5d8e-9b7a-2c4d8e1f0a93")
DEFAULT_LIST_NAME = "Tasks"
LIST_INDEX = "ix_tasks_list_id_created_at_id"
LIST_KEY = "fk_tasks_user_id_list_id_task_lists"
NOT_NULL_CHECK = "ck_tasks_list_id_not_null"

# The columns the backfill touches, as they are at this revision.
tasks = sa.table(
    "tasks",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.String()),
    sa.column("list_id", sa.Uuid()),
)
task_lists = sa.table(
    "task_lists",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
    sa.column("is_default", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.BigInteger()),
)


def upgrade() -> None:
    bind = op.get_bind()
    on_postgresql = bind.dialect.name == "postgresql"
    op.create_table(
        "task_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_lists")),
        sa.UniqueConstraint("user_id", "id", name=op.f("uq_task_lists_user_id_id")),
        sa.UniqueConstraint("user_id", "name_key", name=op.f("uq_task_lists_user_id_name_key")),
    )
    op.create_index(
        "uq_task_lists_user_id_default",
        "task_lists",
        ["user_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "list_tombstones",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_list_tombstones")),
    )
    op.create_index("ix_list_tombstones_deleted_at", "list_tombstones", ["deleted_at"])
    op.add_column("tasks", sa.Column("list_id", sa.Uuid(), nullable=True))
    _change_email_length(320, 254)
    if not on_postgresql:
        _backfill(bind)
        with op.batch_alter_table("tasks", recreate="always") as batch:
            batch.alter_column("list_id", existing_type=sa.Uuid(), nullable=False)
            batch.create_foreign_key(
                LIST_KEY, "task_lists", ["user_id", "list_id"], ["user_id", "id"]
            )
        op.create_index(LIST_INDEX, "tasks", ["list_id", "created_at", "id"])
        return
    # Each statement below commits on its own (see the module docstring).
    with op.get_context().autocommit_block():
        op.create_index(
            LIST_INDEX, "tasks", ["list_id", "created_at", "id"], postgresql_concurrently=True
        )
        _backfill(bind)
        op.execute(
            f"ALTER TABLE tasks ADD CONSTRAINT {LIST_KEY} FOREIGN KEY (user_id, list_id) "
            "REFERENCES task_lists (user_id, id) NOT VALID"
        )
        op.execute(f"ALTER TABLE tasks VALIDATE CONSTRAINT {LIST_KEY}")
        op.execute(
            f"ALTER TABLE tasks ADD CONSTRAINT {NOT_NULL_CHECK} CHECK (list_id IS NOT NULL) "
            "NOT VALID"
        )
        _sweep_stragglers(bind)
        op.execute(f"ALTER TABLE tasks VALIDATE CONSTRAINT {NOT_NULL_CHECK}")
        op.execute("ALTER TABLE tasks ALTER COLUMN list_id SET NOT NULL")
        op.execute(f"ALTER TABLE tasks DROP CONSTRAINT {NOT_NULL_CHECK}")


def _change_email_length(old: int, new: int) -> None:
    with warnings.catch_warnings():
        # SQLite rebuilds `users` for the new type, and cannot reflect the expression index
        # on lower(email) (it warns), so the rebuilt table lacks it: made again below.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with op.batch_alter_table("users") as batch:
            batch.alter_column(
                "email", existing_type=sa.String(length=old), type_=sa.String(length=new)
            )
        names = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("users")}
    if "uq_users_email_lower" not in names:
        op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def _insert_default_lists(connection: Connection, owners: Sequence[str]) -> None:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    now = datetime.now(UTC)
    for start in range(0, len(owners), BATCH_ROWS):
        rows = [
            {
                "id": uuid.uuid5(DEFAULT_LIST_NAMESPACE, owner),
                "user_id": owner,
                "name": DEFAULT_LIST_NAME,
                "name_key": DEFAULT_LIST_NAME.casefold(),
                "is_default": True,
                "created_at": now,
                "updated_at": now,
                "version": 0,
            }
            for owner in owners[start : start + BATCH_ROWS]
        ]
        connection.execute(insert(task_lists).values(rows).on_conflict_do_nothing())


def _into_default_lists(condition: sa.ColumnElement[bool]) -> sa.Update:
    return (
        tasks.update()
        .values(list_id=task_lists.c.id)
        .where(
            condition,
            tasks.c.list_id.is_(None),
            task_lists.c.user_id == tasks.c.user_id,
            task_lists.c.is_default,
        )
    )


def _owners_of_unlisted_tasks(connection: Connection) -> list[str]:
    query = sa.select(tasks.c.user_id).where(tasks.c.list_id.is_(None)).distinct()
    return list(connection.scalars(query))


def _backfill(connection: Connection) -> None:
    """Every task into its owner's default list, BATCH_ROWS tasks per statement."""
    _insert_default_lists(connection, _owners_of_unlisted_tasks(connection))
    after: uuid.UUID | None = None
    while True:
        page = sa.select(tasks.c.id).order_by(tasks.c.id).limit(BATCH_ROWS)
        if after is not None:
            page = page.where(tasks.c.id > after)
        batch = list(connection.scalars(page))
        if not batch:
            return
        connection.execute(_into_default_lists(tasks.c.id.in_(batch)))
        after = batch[-1]


def _sweep_stragglers(connection: Connection) -> None:
    """The tasks created by version 2 instances while the backfill ran: few, in one go."""
    _insert_default_lists(connection, _owners_of_unlisted_tasks(connection))
    connection.execute(_into_default_lists(sa.true()))


def downgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    if on_postgresql:
        with op.get_context().autocommit_block():
            op.drop_index(LIST_INDEX, table_name="tasks", postgresql_concurrently=True)
    else:
        op.drop_index(LIST_INDEX, table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(LIST_KEY, type_="foreignkey")
        batch.drop_column("list_id")
    _change_email_length(254, 320)
    op.drop_index("ix_list_tombstones_deleted_at", table_name="list_tombstones")
    op.drop_table("list_tombstones")
    op.drop_index("uq_task_lists_user_id_default", table_name="task_lists")
    op.drop_table("task_lists")
