"""Live updates: notifications of committed changes, and the tickets already redeemed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

PostgreSQL: statement-level AFTER triggers on `change_counters` call
`pg_notify('todo_changes', <user id>)` once for each user whose counter the statement
moved. Every change that `/tasks/changes` (and so `GET /events`) can report takes a number
from that counter in its own statement or transaction (tasks/changes.py), so the counter is
the one table that sees every writer (the REST API, CalDAV, scripts, versions to come)
without a line in any of them: no extra statement, no extra round trip, and the notification
is delivered at commit, or not at all on rollback. It carries a user id (at most 255
characters, far below the 8000-byte payload limit), never a row: listeners read the changes
through the same query as `/tasks/changes`. PostgreSQL folds identical notifications of one
transaction into one, so a transaction that writes a user's data several times (a list's
deletion with its tasks, an Idempotency-Key) sends one. DELETE is covered too: erasing an
account (DELETE /auth/me) deletes its counter, and its open streams are told to start over.

Safe on a live PostgreSQL: the table is new and empty, the function is new, and CREATE
TRIGGER takes a lock on `change_counters` for a moment (no scan), which concurrent writes
wait out. Earlier versions keep working throughout: their writes simply notify too.

SQLite has no NOTIFY: the service fans its own changes out in process, through triggers it
creates on each of its connections (todo_api/database/change_feed.py), so here only the
table is made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "notify_change_counters"
# One trigger per event: a trigger with transition tables fires for one kind of event only.
TRIGGERS = {"insert": "NEW", "update": "NEW", "delete": "OLD"}
# `changed` is each trigger's transition table: the rows its statement wrote.
NOTIFY_FUNCTION = """
CREATE FUNCTION notify_change_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('todo_changes', owners.user_id)
    FROM (SELECT DISTINCT user_id FROM changed) AS owners;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "used_event_tickets",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_used_event_tickets")),
    )
    op.create_index("ix_used_event_tickets_expires_at", "used_event_tickets", ["expires_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(NOTIFY_FUNCTION)
    for event, transition in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER change_counters_notify_{event} AFTER {event.upper()} "
            f"ON change_counters REFERENCING {transition} TABLE AS changed "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS change_counters_notify_{event} ON change_counters")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.drop_index("ix_used_event_tickets_expires_at", table_name="used_event_tickets")
    op.drop_table("used_event_tickets")
