"""`TicketRepository`: the record of redeemed event tickets, shared by every instance."""

from __future__ import annotations

import uuid
from datetime import datetime

from todo_api.database import Database, fetch_all
from todo_api.events.statements import REDEEM_TICKET


class TicketRepository:
    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    async def mark_used(self, ticket_id: uuid.UUID, expires_at: datetime) -> bool:
        """Record the ticket as used; False when it already was. One statement."""
        statement = REDEEM_TICKET[self._database.engine.dialect.name]
        params = {"ticket_id": ticket_id, "expires_at": expires_at}
        async with self._database.connect() as connection:
            # Not repeated after a lost connection: a second run would find the first one's
            # row and refuse the ticket; the client gets 503 and asks for a new one.
            rows = await fetch_all(connection, statement, params, safe_to_repeat=False)
        return bool(rows)
