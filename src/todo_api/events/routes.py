"""`/events`: live updates as Server-Sent Events, and tickets for browsers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from todo_api.auth.dependencies import BearerToken, CurrentUser
from todo_api.errors import problem_responses
from todo_api.events.dependencies import (
    EventServiceDep,
    StreamCallerDep,
    StreamHubDep,
    TicketServiceDep,
    token_expiry,
)
from todo_api.events.schemas import TicketRead
from todo_api.events.stream import EventStreamResponse, open_stream
from todo_api.opaque_tokens import MAX_OPAQUE_TOKEN_LENGTH
from todo_api.state import resources_of

router = APIRouter(prefix="/events", tags=["live updates"])

_EXAMPLE_STREAM = (
    "retry: 2000\n: stream open\n\n"
    "id: WzQyLDE3NjUxMDAwMDAsImI3ZTFjLi4uIl0.x1Y2\nevent: task\n"
    'data: {"id":"b7e1c0de-...","title":"Buy milk","completed":false,"...":"..."}\n\n'
    ": keep-alive\n\n"
    "id: WzQzLDE3NjUxMDAwMDAsImI3ZTFjLi4uIl0.Q9fA\nevent: task-deleted\n"
    'data: {"id":"b7e1c0de-..."}\n\n'
)
_STREAM_DESCRIPTION = """\
Server-Sent Events, in the order their changes committed: `task` (data: the task, as
`GET /tasks/{id}` returns it; changes to one task that commit in quick succession may come
as one event with the latest state), `task-deleted` (data: `{"id"}`), `list`, `list-deleted`, and
`reset` (the token is too old or its history was erased: sync again without `since`). Each
event's `id` is a sync token: `/tasks/changes?since=<id>` returns what came after it.

Without a token the stream delivers every change committed after its response headers were
sent. With `Last-Event-ID` (what browsers send on reconnecting; it wins over `since`) or
`?since=`, it first delivers every change after that token, then live ones: none is missed or
repeated. A comment line arrives at least every `EVENTS_HEARTBEAT_SECONDS` (15 by default).
The stream ends at the `exp` of its access token (for a ticket, of the token that asked for
it), and when the service shuts down: reconnect, with a new ticket in a browser.

Authentication: `Authorization: Bearer`, or `?ticket=` from `POST /events/tickets`.
At most `EVENTS_MAX_STREAMS_PER_USER` (10) open streams per user on each instance: one more
is 429 with `Retry-After`."""


@router.post(
    "/tickets",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketRead,
    summary="Get a ticket to open an event stream from a browser",
    description=(
        "A browser's `EventSource` cannot send `Authorization`, and access tokens never go "
        "in URLs: ask for a ticket with your bearer token and open "
        "`GET /events?ticket=...` with it. A ticket is valid for 60 seconds, once, for your "
        "user only, on any instance. The stream it opens ends at your token's `exp`."
    ),
    responses=problem_responses(401, 429, 503),
)
async def create_ticket(
    user: CurrentUser, token: BearerToken, tickets: TicketServiceDep
) -> TicketRead:
    ticket, lifetime = tickets.issue(user.subject, token_expiry(token or ""))
    return TicketRead(ticket=ticket, expires_in=lifetime)


@router.get(
    "",
    response_class=EventStreamResponse,
    status_code=status.HTTP_200_OK,
    summary="Follow changes to your tasks and lists as they happen (Server-Sent Events)",
    description=_STREAM_DESCRIPTION,
    responses={
        200: {
            "description": "The event stream; it stays open.",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": _EXAMPLE_STREAM,
                }
            },
            "headers": {
                "Cache-Control": {"schema": {"type": "string"}, "description": "`no-store`"},
                "X-Accel-Buffering": {"schema": {"type": "string"}, "description": "`no`"},
            },
        },
        **problem_responses(401, 422, 429, 503),
    },
)
async def stream_events(
    request: Request,
    caller: StreamCallerDep,
    events: EventServiceDep,
    hub: StreamHubDep,
    since: Annotated[
        str | None,
        Query(
            description="Start after this sync token (an event's id, or a `next_since`).",
            max_length=MAX_OPAQUE_TOKEN_LENGTH,
            examples=["WzQyLDE3NjUxMDAwMDAsbnVsbF0.x1Y2"],
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The last event id received; browsers send it when they reconnect.",
            max_length=MAX_OPAQUE_TOKEN_LENGTH,
            examples=["WzQyLDE3NjUxMDAwMDAsbnVsbF0.x1Y2"],
        ),
    ] = None,
) -> EventStreamResponse:
    return await open_stream(
        hub,
        caller.subject,
        events,
        since=since,
        last_event_id=last_event_id,
        ends_at=caller.ends_at,
        heartbeat_seconds=resources_of(request).settings.events_heartbeat_seconds,
    )
