"""Tickets for `GET /events?ticket=`: a browser's EventSource cannot send Authorization, and
an access token must never go in a URL (they end up in logs, histories and Referer headers).

A ticket is an opaque token (`OpaqueTokens`, keyed from SERVER_SECRET, so any instance
accepts another's) that names its user, its own random id, the time it expires (60 s after
it was made) and the `exp` of the access token that asked for it, where a stream opened with
it ends. It is good once: redeeming it records its id in `used_event_tickets` with one
statement, which a second redemption, on any instance, finds (events/repository.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from todo_api.errors import UnauthorizedError
from todo_api.opaque_tokens import InvalidOpaqueTokenError, OpaqueTokens

TICKET_SECONDS = 60
_PURPOSE = "event-ticket"
# The user travels inside the ticket, so the MAC binds no separate owner.
_NO_OWNER = ""
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True, slots=True)
class Ticket:
    id: uuid.UUID
    owner: str
    expires_at: datetime
    # The `exp` (Unix time) of the access token that asked for the ticket.
    stream_until: int


class InvalidTicketError(UnauthorizedError):
    detail = "The ticket is invalid, expired or already used; ask for a new one."

    def __init__(self) -> None:
        super().__init__(headers=_CHALLENGE)


def seal_ticket(tokens: OpaqueTokens, ticket: Ticket) -> str:
    expires = int(ticket.expires_at.timestamp())
    payload = [ticket.owner, ticket.id.hex, expires, ticket.stream_until]
    return tokens.seal(_PURPOSE, _NO_OWNER, payload)


def open_ticket(tokens: OpaqueTokens, text: str, now: datetime) -> Ticket:
    """The ticket `text` names, if this service made it and it has not expired (whether it
    was used is the database's to say)."""
    try:
        payload = tokens.open(_PURPOSE, _NO_OWNER, text)
    except InvalidOpaqueTokenError:
        raise InvalidTicketError from None
    if not (
        isinstance(payload, list)
        and len(payload) == 4
        and isinstance(payload[0], str)
        and isinstance(payload[1], str)
        and all(type(number) is int and number >= 0 for number in payload[2:])
    ):
        raise InvalidTicketError
    owner, ticket_id, expires, stream_until = payload
    try:
        ticket = Ticket(
            uuid.UUID(hex=ticket_id), owner, datetime.fromtimestamp(expires, UTC), stream_until
        )
    except (OverflowError, OSError, ValueError):
        raise InvalidTicketError from None
    if ticket.expires_at <= now:
        raise InvalidTicketError
    return ticket
