"""Where the CPU of one GET /tasks/{id} goes, layer by layer, in process (no HTTP server).

    .venv/bin/python bench/layers.py --database-url postgresql://postgres@127.0.0.1/postgres

The same request is served four ways, each doing less than the one before, on a scratch
database (created, migrated and dropped): the whole app; a FastAPI route of the same app
without its dependencies (no FastAPI parameters, security or rate limit: it reads the token
and the id itself); a bare ASGI callable in front of the app that does the same work; and
that work alone (verify the token, check out a connection, read the task, render it). The
differences are what each layer costs. The last line is a connection checkout and return
alone, and the psycopg reference app (bench/baseline.py) serves the same request whole, for
scale. CPU microseconds per request, the median and best of rounds taken in turn, so that
other load on the machine sways every line alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from in_process import asgi_caller, scratch_database

ROUNDS = 12
CALLS = 150

Call = Callable[[], Awaitable[object]]


async def measure(url: str) -> list[tuple[str, float, float]]:
    import orjson
    from asgi_lifespan import LifespanManager
    from baseline import Baseline
    from tests.conftest import TEST_SECRET, make_settings, make_token

    from todo_api.app import create_app
    from todo_api.state import Resources, resources_of
    from todo_api.tasks.responses import current_task
    from todo_api.tasks.service import TaskService

    token = make_token("user-layers")

    async def work(resources: Resources, raw_token: str, task_id: uuid.UUID) -> Response:
        principal = await resources.verifier.verify(raw_token)
        async with resources.database.connect() as connection:
            tasks = TaskService.on(connection, principal.subject, safe_to_repeat=True)
            task = await tasks.get(task_id)
        return current_task(task).to_response()

    app = create_app(make_settings(url, log_level="WARNING"))

    @app.get("/bare-route/{task_id}", include_in_schema=False)
    async def bare_route(task_id: str, request: Request) -> Response:
        raw_token = request.headers["authorization"].removeprefix("Bearer ")
        return await work(resources_of(request), raw_token, uuid.UUID(task_id))

    async def in_front(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"].startswith("/bare-asgi/"):
            response = await work(app.state.resources, token, uuid.UUID(scope["path"][11:]))
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(app))
        call = asgi_caller(in_front, token)

        created = await call("POST", "/tasks", b'{"title": "layers"}')
        task_id = orjson.loads(created[1]["body"])["id"]
        resources: Resources = app.state.resources

        async def connection_only() -> None:
            async with resources.database.connect():
                pass

        # For scale: the psycopg reference app (bench/baseline.py), the same request whole.
        os.environ.update(DATABASE_URL=url, JWT_SECRET=TEST_SECRET)
        reference = await stack.enter_async_context(LifespanManager(Baseline()))
        reference_call = asgi_caller(reference.app, token)

        ways: dict[str, Call] = {
            "whole app: GET /tasks/{id}": lambda: call("GET", f"/tasks/{task_id}"),
            "FastAPI route without dependencies": lambda: call("GET", f"/bare-route/{task_id}"),
            "bare ASGI in front of the app": lambda: call("GET", f"/bare-asgi/{task_id}"),
            "the work alone (verify, connect, read, render)": lambda: work(
                resources, token, uuid.UUID(task_id)
            ),
            "connection checkout and return alone": connection_only,
            "the psycopg reference app, whole request": lambda: reference_call(
                "GET", f"/tasks/{task_id}"
            ),
        }
        for name, way in ways.items():
            answer = await way()
            if isinstance(answer, list) and answer[0]["status"] != 200:
                raise SystemExit(f"{name}: {answer[0]['status']} {answer[1]['body']!r}")
        timings: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(ROUNDS + 1):
            for name, way in ways.items():
                started = time.process_time()
                for _ in range(CALLS):
                    await way()
                timings[name].append((time.process_time() - started) / CALLS * 1e6)
        # The first round warms up.
        figures = [sorted(times[1:]) for times in timings.values()]
        return [
            (name, times[len(times) // 2], times[0])
            for name, times in zip(timings, figures, strict=True)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/layers.py", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL server")
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        figures = asyncio.run(measure(url))
    print("| served as | median us | best us | less than the line above |")
    print("|---|---:|---:|---:|")
    previous: float | None = None
    for name, median, best in figures:
        step = "" if previous is None or name.startswith("the psycopg") else previous - median
        print(f"| {name} | {median:.0f} | {best:.0f} | {step if step == '' else f'{step:.0f}'} |")
        previous = median


if __name__ == "__main__":
    main()
