"""Many open `GET /events` streams from one process: raw HTTP/1.1 over asyncio sockets, so
that the client holding thousands of them costs little next to the server it measures."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from . import BenchError

OPEN_CONCURRENCY = 100


@dataclass
class OpenStream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reading: asyncio.Task[None] | None = None

    def close(self) -> None:
        if self.reading is not None:
            self.reading.cancel()
        self.writer.close()


async def open_stream(port: int, token: str, path: str = "/events") -> OpenStream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        writer.close()
        raise BenchError(f"stream refused: {head.splitlines()[0].decode(errors='replace')}")
    return OpenStream(reader, writer)


async def open_streams(port: int, tokens: list[str], path: str = "/events") -> list[OpenStream]:
    """One stream per token, opened OPEN_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(token: str) -> OpenStream:
        async with gate:
            return await open_stream(port, token, path)

    return list(await asyncio.gather(*(one(token) for token in tokens)))


async def read_events(stream: OpenStream, on_data: Callable[[bytes, float], None]) -> None:
    """Call `on_data(data line, arrival time)` for every `data:` line of a chunked stream."""
    reader = stream.reader
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            arrived = time.monotonic()
            for line in chunk.split(b"\n"):
                if line.startswith(b"data: "):
                    on_data(line[6:], arrived)


def drain(streams: list[OpenStream]) -> None:
    """Read and drop whatever idle streams receive (heartbeats), so no buffer fills up."""
    for stream in streams:
        stream.reading = asyncio.create_task(read_events(stream, lambda _data, _at: None))


def title_of(data: bytes) -> str | None:
    with contextlib.suppress(ValueError):
        value = orjson.loads(data)
        if isinstance(value, dict) and isinstance(value.get("title"), str):
            return str(value["title"])
    return None
