"""One open stream on the wire: events as they come, comment lines in between, and its end.

The response class was chosen by resident memory per idle stream (bench/sse_choice.py,
2,000 idle streams each on one uvicorn process; an idle stream is most of what a worker
holds): 47 KiB with sse-starlette's `EventSourceResponse` (a ping task per stream), 54 KiB
with FastAPI's own `EventSourceResponse` path operations (a producer task and a memory
stream), 30 KiB with Starlette's `StreamingResponse` (an anyio task group of two tasks, one
of them waiting for the client to leave), and 24 KiB with `EventStreamResponse` below,
which streams in the request's own task and waits for the client to leave in one plain
task that wakes the stream to end it. Those 6 KiB are 30 MiB of a worker holding 5,000
streams, the difference between 304 MiB and about 275 (bench/RESULTS.md). The wire format
is four kinds of line, formatted here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import structlog
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from todo_api.errors import AppError
from todo_api.events.hub import StreamHub, Subscriber
from todo_api.events.service import CatchUp, EventService, ServerEvent

log = structlog.get_logger(__name__)

STREAM_HEADERS = {
    # Every event is news: nothing in between may keep or buffer it (X-Accel-Buffering: nginx).
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
}
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
) -> AsyncGenerator[bytes]:
    """The stream's body until the client goes, its token's `exp` (Unix time `ends_at`) or
    shutdown. `subscriber` has joined `hub` already (before the first read, so that nothing
    committed meanwhile goes unnoticed) and leaves it here, however the stream ends."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + (ends_at - time.time())
    try:
        yield _OPENING + b"".join(encode_event(event) for event in first.events)
        last_sent = clock()
        position, more, retrying = first.position, first.has_more, False
        while not (hub.closing or subscriber.gone):
            now = clock()
            if now >= deadline:
                return
            wait = min(last_sent + heartbeat_seconds, deadline) - now
            if more:
                wait = 0
            elif retrying:
                wait = min(wait, RETRY_READ_SECONDS)
            woken = await subscriber.wait(wait)
            if hub.closing or subscriber.gone:
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
) -> EventStreamResponse:
    """A new stream's response, once its first read has succeeded: a refusal (too many
    streams, a malformed token, the database down) is still an ordinary problem response."""
    subscriber = hub.join(owner)
    try:
        first = await events.start(since, last_event_id)
    except BaseException:
        hub.leave(subscriber)
        raise
    body = event_stream(
        hub, subscriber, events, first, ends_at=ends_at, heartbeat_seconds=heartbeat_seconds
    )
    return EventStreamResponse(body, subscriber)


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` from `body`, sent in the request's own task, while one plain task
    waits for the client to leave and then wakes the stream (`subscriber`) to end it."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncGenerator[bytes], subscriber: Subscriber) -> None:
        super().__init__(body, headers=STREAM_HEADERS)
        self.stream = body
        self.subscriber = subscriber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscriber = self.subscriber

        async def wait_for_the_client_to_leave() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            subscriber.client_left()

        watcher = asyncio.create_task(wait_for_the_client_to_leave())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # A server of ASGI spec 2.4 reports a client gone as an error of `send`.
            subscriber.client_left()
        finally:
            watcher.cancel()
            # However the response ended, the stream leaves the hub now.
            await self.stream.aclose()
