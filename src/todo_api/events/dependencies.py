"""Who is streaming: `StreamCallerDep` (a bearer token or a ticket), and the services."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Query, Request

from todo_api.auth.dependencies import BearerToken, authenticate
from todo_api.errors import UnauthorizedError
from todo_api.events.hub import StreamHub
from todo_api.events.repository import TicketRepository
from todo_api.events.service import EventService, TicketService
from todo_api.events.tickets import InvalidTicketError
from todo_api.opaque_tokens import MAX_OPAQUE_TOKEN_LENGTH
from todo_api.ratelimit import limit_by_subject
from todo_api.state import resources_of


@dataclass(frozen=True, slots=True)
class StreamCaller:
    subject: str
    # Unix time where the stream ends: the `exp` of the access token (for a ticket, of the
    # token that asked for it), without the leeway.
    ends_at: int


def token_expiry(token: str) -> int:
    """The `exp` of a token that `authenticate` has just verified (it requires one)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"])


TicketQuery = Annotated[
    str | None,
    Query(
        description=(
            "A ticket from `POST /events/tickets`, for clients that cannot send "
            "`Authorization` (a browser's EventSource). Never put an access token here."
        ),
        max_length=MAX_OPAQUE_TOKEN_LENGTH,
        examples=["WyJ1c2VyLTEi...Xa1b2c"],
    ),
]


async def ticket_service(request: Request) -> TicketService:
    resources = resources_of(request)
    return TicketService(TicketRepository(resources.database), resources.opaque_tokens)


TicketServiceDep = Annotated[TicketService, Depends(ticket_service)]


async def stream_caller(
    request: Request, token: BearerToken, tickets: TicketServiceDep, ticket: TicketQuery = None
) -> StreamCaller:
    """The caller of `GET /events`, by bearer token or by ticket (used up here), counted
    against that user's rate limit."""
    resources = resources_of(request)
    if ticket is None:
        principal = await authenticate(request, resources.verifier, token)
        caller = StreamCaller(principal.subject, token_expiry(token or ""))
    else:
        redeemed = await tickets.redeem(ticket)
        if token:
            # Both given: they must speak for the same user.
            principal = await authenticate(request, resources.verifier, token)
            if principal.subject != redeemed.owner:
                raise InvalidTicketError
        request.state.subject = redeemed.owner
        caller = StreamCaller(redeemed.owner, redeemed.stream_until)
    if caller.ends_at <= time.time():
        # Accepted within the leeway, but the stream would end before it began: the client
        # needs a new token, not an empty stream to reconnect to again and again.
        raise UnauthorizedError(
            "The bearer token has expired; streams end at a token's `exp`.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    await limit_by_subject(request, resources.rate_limiter, caller.subject)
    return caller


StreamCallerDep = Annotated[StreamCaller, Depends(stream_caller)]


async def event_service(request: Request, caller: StreamCallerDep) -> EventService:
    resources = resources_of(request)
    return EventService(
        resources.database,
        resources.opaque_tokens,
        caller.subject,
        keep_days=resources.settings.sync_tombstone_days,
    )


EventServiceDep = Annotated[EventService, Depends(event_service)]


async def stream_hub(request: Request) -> StreamHub:
    live = resources_of(request).live_updates
    assert live is not None, "the lifespan starts live updates"
    return live.hub


StreamHubDep = Annotated[StreamHub, Depends(stream_hub)]
