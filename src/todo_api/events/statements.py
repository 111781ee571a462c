"""The one write of live updates: a ticket's redemption, in each dialect."""

from __future__ import annotations

from sqlalchemy import Executable, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from todo_api.database import UTCDateTime
from todo_api.events.models import used_event_tickets_table as used_tickets

_VALUES = {
    "ticket_id": bindparam("ticket_id", type_=used_tickets.c.ticket_id.type),
    "expires_at": bindparam("expires_at", type_=UTCDateTime()),
}

# A row back: the ticket was unused until now. Nothing: another redemption, on any
# instance, got there first.
REDEEM_TICKET: dict[str, Executable] = {
    "postgresql": postgresql.insert(used_tickets)
    .values(_VALUES)
    .on_conflict_do_nothing()
    .returning(used_tickets.c.ticket_id),
    "sqlite": sqlite.insert(used_tickets)
    .values(_VALUES)
    .on_conflict_do_nothing()
    .returning(used_tickets.c.ticket_id),
}
