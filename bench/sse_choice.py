"""Which response class serves `GET /events`: resident memory per idle stream of each.

    pip install sse-starlette   # not a dependency: only this comparison imports it
    .venv/bin/python bench/streams.py --compare-sse [--streams 2000]

Each candidate is a minimal app of its own on uvicorn (one process, no database), whose
`/events` holds an idle stream as the service's does: an opening comment, then a wait on an
asyncio.Event with a heartbeat every 15 s. The memory of N open streams, over N.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from driver import BENCH_DIR
from driver.sampling import rss_kib
from driver.streams import drain, open_streams
from driver.targets import free_port

CANDIDATES = ("starlette", "one-task", "fastapi", "sse-starlette")
HEARTBEAT_SECONDS = 15.0


async def _idle() -> AsyncIterator[bytes]:
    changed = asyncio.Event()
    yield b"retry: 2000\n: stream open\n\n"
    while True:
        try:
            async with asyncio.timeout(HEARTBEAT_SECONDS):
                await changed.wait()
        except TimeoutError:
            yield b": keep-alive\n\n"


def _body(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


def make_app() -> Any:
    """The candidate that SSE_CANDIDATE names."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    kind = os.environ["SSE_CANDIDATE"]
    app = FastAPI()
    if kind == "starlette":

        @app.get("/events")
        async def plain() -> StreamingResponse:
            return StreamingResponse(_idle(), media_type="text/event-stream")

    elif kind == "one-task":
        from starlette.types import Receive, Scope, Send

        class OneTask(StreamingResponse):
            """The stream in the request's own task; one plain task waits for the client
            to leave, and wakes the stream to end it (no task group)."""

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                changed = asyncio.Event()
                gone = False

                async def watch() -> None:
                    nonlocal gone
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    gone = True
                    changed.set()

                watcher = asyncio.create_task(watch())
                try:
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                    )
                    await send(_body(b": open\n\n"))
                    while not gone:
                        try:
                            async with asyncio.timeout(HEARTBEAT_SECONDS):
                                await changed.wait()
                        except TimeoutError:
                            await send(_body(b": k\n\n"))
                finally:
                    watcher.cancel()

        @app.get("/events")
        async def one_task() -> StreamingResponse:
            return OneTask(_idle(), media_type="text/event-stream")

    elif kind == "fastapi":
        from fastapi.sse import EventSourceResponse

        @app.get("/events", response_class=EventSourceResponse)
        async def built_in() -> AsyncIterator[dict[str, str]]:
            changed = asyncio.Event()
            while True:
                await changed.wait()
                yield {"never": "sent"}

    else:
        from sse_starlette import EventSourceResponse as LibraryResponse

        @app.get("/events")
        async def library() -> Any:
            async def idle() -> AsyncIterator[dict[str, str]]:
                changed = asyncio.Event()
                while True:
                    await changed.wait()
                    yield {"data": "never sent"}

            return LibraryResponse(idle(), ping=int(HEARTBEAT_SECONDS))

    return app


async def _measure(pid: int, port: int, count: int) -> float:
    warm = await open_streams(port, ["x"] * 20)
    drain(warm)
    await asyncio.sleep(1)
    before = rss_kib(pid)
    streams = await open_streams(port, ["x"] * count)
    drain(streams)
    await asyncio.sleep(3)
    after = rss_kib(pid)
    for stream in [*warm, *streams]:
        stream.close()
    return (after - before) / count


def _per_stream(kind: str, count: int) -> float:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "sse_choice:make_app"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=BENCH_DIR, env={**os.environ, "SSE_CANDIDATE": kind})
    try:
        time.sleep(3)
        return asyncio.run(_measure(server.pid, port, count))
    finally:
        # Uvicorn would wait for the open streams: this candidate is done with.
        server.kill()
        server.wait(timeout=20)


def compare(count: int) -> str:
    lines = [f"resident memory per idle stream, {count} streams each:"]
    for kind in CANDIDATES:
        lines.append(f"  {kind:<14} {_per_stream(kind, count):6.1f} KiB")
    return "\n".join(lines)
