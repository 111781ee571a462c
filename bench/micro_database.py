"""micro.py's figures that need PostgreSQL: the database path, and whole requests in process."""

from __future__ import annotations

import asyncio
import gc

from in_process import Figure, asgi_caller, async_cpu_per_call, scratch_database

CONCURRENT_PAGES = 32
DEFAULT_GC_THRESHOLDS = (700, 10, 10)


def database_figures(server_url: str) -> list[Figure]:
    with scratch_database(server_url) as dsn:

        async def measure() -> list[Figure]:
            return [*await _connection_paths(dsn), *await _whole_requests(dsn)]

        return asyncio.run(measure())


async def _connection_paths(url: str) -> list[Figure]:
    from tests.conftest import make_settings

    from todo_api.database import Database
    from todo_api.tasks.schemas import TaskCreate
    from todo_api.tasks.service import TaskService

    database = Database(make_settings(url))
    try:
        async with database.connect() as connection:
            task = await TaskService.on(connection, "user-micro").create(TaskCreate(title="t"))

        async def autocommit() -> None:
            async with database.connect() as connection:
                await TaskService.on(connection, "user-micro").get(task.id)

        async def in_transaction() -> None:
            async with database.transaction() as connection:
                await TaskService.on(connection, "user-micro").get(task.id)

        calls = 300
        with_autocommit = await async_cpu_per_call(autocommit, calls)
        return [
            Figure(
                "get in autocommit (1 round trip) vs in a transaction (3)",
                "database/engine.py create_engine isolation_level",
                with_autocommit,
                await async_cpu_per_call(in_transaction, calls),
            ),
        ]
    finally:
        await database.dispose()


async def _whole_requests(url: str) -> list[Figure]:
    """CPU of whole requests: raw ASGI calls into the app (no HTTP server)."""
    import orjson
    from asgi_lifespan import LifespanManager
    from tests.conftest import make_settings, make_token

    from todo_api.app import create_app
    from todo_api.commands import GC_YOUNG_THRESHOLD

    app = create_app(make_settings(url, log_level="WARNING"))
    async with LifespanManager(app) as manager:
        call = asgi_caller(manager.app, make_token("user-micro"))

        created = [await call("POST", "/tasks", b'{"title": "micro"}') for _ in range(50)]
        path = f"/tasks/{orjson.loads(created[0][1]['body'])['id']}"
        get = await async_cpu_per_call(lambda: call("GET", path), 300)

        async def pages_at_once() -> None:
            # As under load: the objects of many requests in flight at the same time.
            await asyncio.gather(*(call("GET", "/tasks") for _ in range(CONCURRENT_PAGES)))

        untuned = tuned = float("inf")
        # Alternated, best of each: the garbage other work left behind sways single runs.
        for _ in range(3):
            gc.unfreeze()
            gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
            untuned = min(untuned, await async_cpu_per_call(pages_at_once, 10) / CONCURRENT_PAGES)
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD)
            tuned = min(tuned, await async_cpu_per_call(pages_at_once, 10) / CONCURRENT_PAGES)
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    return [
        Figure("whole GET /tasks/{id} in process (for scale)", "app", get, get),
        Figure(
            f"GET /tasks (page of 50, {CONCURRENT_PAGES} at once), GC tuned vs Python's default",
            "commands.py serving_app",
            tuned,
            untuned,
        ),
    ]
