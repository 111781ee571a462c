"""One open stream on the wire: events as they come, comment lines in between, and its end.

The body is a plain Starlette `StreamingResponse` over this generator, chosen by resident
memory per idle stream (bench/sse_choice.py, 2,000 idle streams each on one uvicorn
process): 30 KiB with it, 47 KiB with sse-starlette's `EventSourceResponse` (a ping task
per stream) and 54 KiB with FastAPI's own `EventSourceResponse` path operations (a producer
task and a memory stream per stream). An idle stream is most of what a worker holds, so that
is 5,000 streams in 150 MiB rather than 235 or 270. The wire format it writes is four kinds
of line, formatted here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import structlog

from todo_api.errors import AppError
from todo_api.events.hub import StreamHub, Subscriber
from todo_api.events.service import CatchUp, EventService, ServerEvent

log = structlog.get_logger(__name__)

# Browsers reconnect after this many milliseconds when a stream ends or drops.
RECONNECT_MILLISECONDS = 2000
# After a failed read (the database unreachable), try again this soon.
RETRY_READ_SECONDS = 1.0
_OPENING = f"retry: {RECONNECT_MILLISECONDS}\n: stream open\n\n".encode()
_HEARTBEAT = b": keep-alive\n\n"


def encode_event(event: ServerEvent) -> bytes:
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event.id.encode(), event.name.encode(), event.data)


async def event_stream(
    hub: StreamHub,
    subscriber: Subscriber,
    events: EventService,
    first: CatchUp,
    *,
    ends_at: float,
    heartbeat_seconds: float,
) -> AsyncIterator[bytes]:
    """The stream's body until the client goes, its token's `exp` (Unix time `ends_at`) or
    shutdown. `subscriber` has joined `hub` already (before the first read, so that nothing
    committed meanwhile goes unnoticed) and leaves it here, however the stream ends."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + (ends_at - time.time())
    try:
        yield _OPENING + b"".join(encode_event(event) for event in first.events)
        last_sent = clock()
        position, more, retrying = first.position, first.has_more, False
        while not hub.closing:
            now = clock()
            if now >= deadline:
                return
            wait = min(last_sent + heartbeat_seconds, deadline) - now
            if more:
                wait = 0
            elif retrying:
                wait = min(wait, RETRY_READ_SECONDS)
            woken = await subscriber.wait(wait)
            if hub.closing:
                return
            if woken or more or retrying:
                try:
                    async with hub.reads:
                        page = await events.catch_up(position)
                except AppError as error:
                    # The database is unreachable (503): the stream stays and reads again;
                    # nothing is lost, its position has not moved.
                    if not retrying:
                        log.warning("live update read failed; retrying", error=type(error).__name__)
                    retrying = True
                else:
                    position, more, retrying = page.position, page.has_more, False
                    if page.events:
                        yield b"".join(encode_event(event) for event in page.events)
                        last_sent = clock()
            if clock() - last_sent >= heartbeat_seconds:
                yield _HEARTBEAT
                last_sent = clock()
    finally:
        hub.leave(subscriber)


async def open_stream(
    hub: StreamHub,
    owner: str,
    events: EventService,
    *,
    since: str | None,
    last_event_id: str | None,
    ends_at: float,
    heartbeat_seconds: float,
) -> AsyncIterator[bytes]:
    """A new stream's body, once its first read has succeeded: a refusal (too many streams,
    a malformed token, the database down) is still an ordinary problem response."""
    subscriber = hub.join(owner)
    try:
        first = await events.start(since, last_event_id)
    except BaseException:
        hub.leave(subscriber)
        raise
    return event_stream(
        hub, subscriber, events, first, ends_at=ends_at, heartbeat_seconds=heartbeat_seconds
    )
