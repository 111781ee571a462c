"""Re-measure, in process, each speed trick the code keeps: seconds, not a benchmark run.

    .venv/bin/python bench/micro.py                       # the tricks that need no database
    .venv/bin/python bench/micro.py --database-url postgresql://postgres@127.0.0.1/postgres

Each line times the code as written against the plain way it replaces, in microseconds of
CPU per call (the best of several rounds, so other load on the machine counts least), and
names where the trick lives. Run it after a dependency upgrade: a trick whose saving fell
below a few percent of a request (about 500 us of CPU) should go, since clear code is the
default and speed has to pay for what it costs to read.

With --database-url (PostgreSQL) it also creates a scratch database, migrates it, and
times the database path and a whole GET /tasks/{id} through the app; the scratch database
is dropped at the end (bench/micro_database.py). The timing and the in-process requests
are in bench/in_process.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from in_process import Figure, asgi_caller, async_cpu_per_call, cpu_per_call
from micro_database import database_figures


def _page_rows(count: int = 50) -> dict[str, Any]:
    now = datetime.now(UTC)
    items = [
        {
            "id": uuid.uuid4(),
            "title": f"task {n}",
            "description": "a description" if n % 2 else None,
            "completed": bool(n % 3),
            "priority": ("none", "low", "medium", "high")[n % 4],
            "due_at": now + timedelta(days=n) if n % 2 else None,
            "tags": ["errands", "home"][: n % 3],
            "created_at": now - timedelta(seconds=n),
            "updated_at": now,
            "completed_at": now if n % 3 else None,
            "etag": f'"{n}"',
        }
        for n in range(count)
    ]
    return {"items": items, "total": 500, "limit": count, "offset": 0, "next_cursor": None}


def page_rendering() -> Figure:
    from todo_api.tasks.schemas import TaskPage, TaskPageResponse

    rows = _page_rows()
    response = TaskPageResponse(rows)

    def kept() -> object:
        return response.render(rows)

    def plain() -> object:
        # What FastAPI does with a response_model: validate, then serialise.
        return TaskPage.model_validate(rows).model_dump_json().encode()

    return Figure(
        "page of 50 rendered with orjson from row dicts",
        "tasks/schemas.py TaskPageResponse",
        cpu_per_call(kept, 500),
        cpu_per_call(plain, 500),
    )


def statements_built_once() -> Figure:
    from sqlalchemy import and_, bindparam, select
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    from todo_api.tasks.models import tasks_table as tasks

    dialect = PGDialect_psycopg()
    columns = [tasks.c[name] for name in ("id", "title", "description", "completed")]

    def build() -> Any:
        owned = and_(tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner"))
        return select(*columns).where(owned)

    built = build()
    built.compile(dialect=dialect)

    def kept() -> object:
        # What an execution costs before the cache lookup: the statement's cache key.
        return built._generate_cache_key()

    def plain() -> object:
        return build()._generate_cache_key()

    return Figure(
        "statement built once (cache key only) vs built per request",
        "tasks/queries.py module-level statements",
        cpu_per_call(kept, 5000),
        cpu_per_call(plain, 5000),
    )


def verified_token_cache() -> Figure:
    from tests.conftest import TEST_SECRET, make_settings, make_token

    from todo_api.auth.tokens import TokenVerifier

    verifier = TokenVerifier(make_settings("sqlite+aiosqlite:///:memory:", jwt_secret=TEST_SECRET))
    token = make_token("user-micro")
    loop = asyncio.new_event_loop()
    try:

        async def measure() -> tuple[float, float]:
            kept = await async_cpu_per_call(lambda: verifier.verify(token), 5000)
            plain = await async_cpu_per_call(lambda: verifier._verify(token), 5000)
            return kept, plain

        kept, plain = loop.run_until_complete(measure())
    finally:
        loop.close()
    return Figure(
        "bearer token verified once, then looked up",
        "auth/tokens.py TokenVerifier._verified",
        kept,
        plain,
    )


def local_rate_counters() -> Figure:
    from limits import parse
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import FixedWindowRateLimiter
    from tests.conftest import make_settings

    from todo_api.ratelimit import RateLimiter

    settings = make_settings("sqlite+aiosqlite:///:memory:", rate_limit_tasks="600/minute")
    subjects = [f"user-{n}" for n in range(10_000)]
    limit = parse("600/minute")
    loop = asyncio.new_event_loop()
    try:

        async def measure() -> tuple[float, float]:
            limiter = RateLimiter(settings)
            storage = FixedWindowRateLimiter(MemoryStorage())
            for subject in subjects:
                await limiter.hit("tasks", subject)
                await storage.hit(limit, "tasks", subject)
            choose = random.Random(1).choice

            async def kept() -> None:
                await limiter.hit("tasks", choose(subjects))
                # Lets whatever the hit scheduled run, and be counted.
                await asyncio.sleep(0)

            async def plain() -> None:
                await storage.hit(limit, "tasks", choose(subjects))
                await asyncio.sleep(0)

            return await async_cpu_per_call(kept, 5000), await async_cpu_per_call(plain, 5000)

        kept, plain = loop.run_until_complete(measure())
    finally:
        loop.close()
    return Figure(
        "rate-limit hit, 10,000 subjects: own counters vs limits' MemoryStorage",
        "ratelimit.py _LocalCounters",
        kept,
        plain,
    )


def request_ids() -> Figure:
    from todo_api.middleware import request_id_from

    seeded = random.Random()  # the fork-unsafe way it replaced, for comparison
    return Figure(
        "request id from secrets (kept: fork-safe) vs a seeded generator",
        "middleware.py request_id_from",
        cpu_per_call(lambda: request_id_from(()), 10000),
        cpu_per_call(lambda: f"{seeded.getrandbits(128):032x}", 10000),
    )


def log_line() -> Figure:
    import io
    import logging

    import structlog
    from tests.conftest import make_settings

    from todo_api.observability import configure_logging

    settings = make_settings("sqlite+aiosqlite:///:memory:", log_format="json")
    configure_logging(settings)
    sink = io.StringIO()
    saved = sys.stderr
    sys.stderr = sink
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(sink)
    try:
        direct = structlog.get_logger("todo_api.request").bind()
        stdlib = structlog.wrap_logger(
            logging.getLogger("todo_api.micro"),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            wrapper_class=structlog.stdlib.BoundLogger,
        )
        fields = {"method": "GET", "route": "/tasks/{task_id}", "status": 200, "duration_ms": 1.2}
        kept = cpu_per_call(lambda: direct.info("request", **fields), 5000)
        plain = cpu_per_call(lambda: stdlib.info("request", **fields), 5000)
    finally:
        sys.stderr = saved
    return Figure(
        "request log line straight from structlog vs through logging",
        "observability.py configure_logging",
        kept,
        plain,
    )


def bearer_dependency() -> Figure:
    from typing import Annotated

    from fastapi import Depends, FastAPI, Request

    from todo_api.auth.dependencies import BearerToken, bearer_token

    async def by_hand(request: Request) -> str:
        return await bearer_token(request) or ""

    async def declared(token: BearerToken) -> str:
        return token or ""

    app = FastAPI()

    @app.get("/by-hand")
    async def by_hand_route(token: Annotated[str, Depends(by_hand)]) -> None:
        return None

    @app.get("/declared")
    async def declared_route(token: Annotated[str, Depends(declared)]) -> None:
        return None

    call = asgi_caller(app, "abc")
    loop = asyncio.new_event_loop()
    try:
        kept = loop.run_until_complete(async_cpu_per_call(lambda: call("GET", "/declared"), 2000))
        plain = loop.run_until_complete(async_cpu_per_call(lambda: call("GET", "/by-hand"), 2000))
    finally:
        loop.close()
    return Figure(
        "bearer scheme as a sub-dependency (kept: declares security) vs called by hand",
        "tasks/dependencies.py task_repository",
        kept,
        plain,
    )


NO_DATABASE: tuple[Callable[[], Figure], ...] = (
    page_rendering,
    statements_built_once,
    verified_token_cache,
    local_rate_counters,
    request_ids,
    log_line,
    bearer_dependency,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/micro.py", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server for the database figures")
    args = parser.parse_args(argv)
    gc.collect()
    print("| trick | kept (us) | plain (us) | saving (us) | where |")
    print("|---|---:|---:|---:|---|")
    for measure in NO_DATABASE:
        print(measure().line(), flush=True)
    if args.database_url:
        for figure in database_figures(args.database_url):
            print(figure.line(), flush=True)


if __name__ == "__main__":
    main()
