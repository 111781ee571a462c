"""A Server-Sent Events client for tests: a stream of a real server, read in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

# Where the tests' servers end streams and send comments often, to keep the tests short.
FAST_EVENTS = {"EVENTS_HEARTBEAT_SECONDS": "1"}


@dataclass
class Event:
    name: str
    id: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


@dataclass
class Stream:
    """What one open stream has received so far."""

    response: httpx.Response
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    comments: list[str] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[Event] = field(default_factory=list)

    @property
    def last_id(self) -> str | None:
        ids = [event.id for event in self.received if event.id is not None]
        return ids[-1] if ids else None

    async def next(self, within: float = 5.0) -> Event:
        async with asyncio.timeout(within):
            return await self.events.get()

    async def take(self, count: int, within: float = 5.0) -> list[Event]:
        return [await self.next(within) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> bool:
        try:
            event = await self.next(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected event {event}")


async def _read(stream: Stream) -> None:
    name, event_id, data = "message", None, []
    try:
        async for line in stream.response.aiter_lines():
            if line == "":
                if data:
                    event = Event(name, event_id, "\n".join(data))
                    stream.received.append(event)
                    stream.events.put_nowait(event)
                name, event_id, data = "message", None, []
            elif line.startswith(":"):
                stream.comments.append(line[1:].strip())
                stream.opened.set()
            else:
                key, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if key == "event":
                    name = value
                elif key == "id":
                    event_id = value
                elif key == "data":
                    data.append(value)
    except httpx.HTTPError:
        pass
    finally:
        stream.ended.set()
        stream.opened.set()


@asynccontextmanager
async def open_stream(
    base_url: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    *,
    expect: int = 200,
) -> AsyncIterator[Stream]:
    """`GET /events`, its events read into a queue until the block ends (which closes it)."""
    timeout = httpx.Timeout(10.0, read=None)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", "/events", headers=headers, params=params) as response,
    ):
        assert response.status_code == expect, (await response.aread()).decode()
        stream = Stream(response)
        reader = asyncio.create_task(_read(stream))
        try:
            # The stream has started when its opening comment arrives.
            if expect == 200:
                async with asyncio.timeout(10):
                    await stream.opened.wait()
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def events_server_environment(database_url: str, **extra: str) -> dict[str, str]:
    from tests.conftest import TEST_SECRET
    from tests.servers import clean_environment

    return clean_environment(
        DATABASE_URL=database_url,
        JWT_SECRET=TEST_SECRET,
        LOG_FORMAT="json",
        RATE_LIMIT_TASKS="1000000/minute",
        EVENTS_MAX_STREAMS_PER_USER="2",
        **FAST_EVENTS,
        **extra,
    )
