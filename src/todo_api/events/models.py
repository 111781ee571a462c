"""The `used_event_tickets` table: tickets of `GET /events` already redeemed, by any instance."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import Index, Table
from sqlmodel import Field, SQLModel

from todo_api.database import UTCDateTime


class UsedEventTicket(SQLModel, table=True):
    """A ticket is good once: its redemption inserts its id here, and a second insert of the
    same id, on whichever instance, finds the row and is refused."""

    __tablename__: ClassVar[str] = "used_event_tickets"
    # The pruner deletes expired rows oldest first: past its expiry a ticket is refused
    # for its age, so its row is no longer needed.
    __table_args__ = (Index("ix_used_event_tickets_expires_at", "expires_at"),)

    ticket_id: uuid.UUID = Field(primary_key=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


used_event_tickets_table = cast(Table, UsedEventTicket.__table__)  # type: ignore[attr-defined]
