"""Prometheus metrics, and the `/metrics` route that reports them for every worker.

With `todo-api serve --workers N` the command sets PROMETHEUS_MULTIPROC_DIR before the
workers start; prometheus-client then keeps each worker's values in files there, and a
scrape of any worker adds them all up. That variable is read when prometheus-client is
imported, so this module must not be imported by the parent before it is set.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Protocol

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from todo_api.settings import Settings

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
POOL_REFRESH_SECONDS = 5.0

UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
    # WebDAV and CalDAV (/dav/).
    | {"PROPFIND", "PROPPATCH", "MKCALENDAR", "REPORT"}
)

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "HTTP requests being handled now.",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "db_pool_connections_waiting",
    "Requests waiting for a database connection because the pool is exhausted.",
    multiprocess_mode="livesum",
)
DB_POOL_OVERFLOW = Gauge(
    "db_pool_connections_overflow",
    "Connections open beyond the pool size (up to DB_MAX_OVERFLOW).",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "db_pool_connections_max",
    "Connections the pool may open: DB_POOL_SIZE + DB_MAX_OVERFLOW (summed over workers).",
    multiprocess_mode="livesum",
)
DB_STATEMENT_RETRIES = Counter(
    "db_statement_retries_total",
    "Statements, or keyed write transactions, run a second time on a fresh connection "
    "after their connection was lost (reads, If-Match updates, Idempotency-Key writes).",
)
DB_CONFLICT_RETRIES = Counter(
    "db_conflict_retries_total",
    "Statements, or transactions, run a second time after PostgreSQL rolled them back for "
    "a serialization failure (40001) or a deadlock (40P01), by SQLSTATE.",
    ["sqlstate"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "rate_limit_rejections_total",
    "Requests refused with 429, by limit (tasks: per subject, auth: per address, "
    "login: per email after failed sign-ins).",
    ["limit"],
)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "rate_limit_storage_errors_total",
    "Failed calls to the shared rate-limit store (Redis).",
)
RATE_LIMIT_UNCHECKED = Counter(
    "rate_limit_unchecked_total",
    "Requests let through unchecked because the rate-limit store was unavailable.",
    ["limit"],
)
AUTH_FAILURES = Counter(
    "auth_failures_total",
    "Requests refused authentication, by reason.",
    ["reason"],
)
LOGIN_FAILURES = Counter(
    "login_failures_total",
    "Sign-ins (POST /auth/token) refused for an unknown email or a wrong password.",
)


def method_label(method: str) -> str:
    # Clients choose the method string; only known ones become label values.
    return method if method in _KNOWN_METHODS else "other"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


class PooledDatabase(Protocol):
    """What the pool gauges read of `todo_api.database.Database`: the database layer counts
    its retries here, so this module names no type of that layer (no import cycle)."""

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def settings(self) -> Settings: ...


def refresh_pool_gauges(database: PooledDatabase) -> None:
    pool = database.engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    settings = database.settings
    DB_POOL_IN_USE.set(pool.checkedout())
    DB_POOL_OVERFLOW.set(max(0, pool.overflow()))
    # The pool was built with these settings (create_engine), and keeps its limit private.
    DB_POOL_MAX.set(settings.db_pool_size + settings.db_max_overflow)
    DB_POOL_WAITING.set(_pool_waiters(pool))


def _pool_waiters(pool: QueuePool) -> int:
    # The one private read of SQLAlchemy's internals, since no public count of checkouts
    # waiting on an exhausted async pool exists: the asyncio queue's pending getters.
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    getters = getattr(queue, "_getters", None)
    if getters is None:
        return 0
    return sum(1 for waiter in getters if not waiter.done())


async def refresh_pool_gauges_forever(database: PooledDatabase) -> None:
    """In multiprocess mode a scrape reads every worker's files, so each keeps its own fresh."""
    while True:
        refresh_pool_gauges(database)
        await asyncio.sleep(POOL_REFRESH_SECONDS)


_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def mark_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that are gone (crashed, or replaced by uvicorn)."""
    for path in Path(directory).glob("gauge_live*.db"):
        match = _GAUGE_FILE.match(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if not _process_alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def mark_this_worker_dead() -> None:
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render_metrics(database: PooledDatabase | None) -> bytes:
    if database is not None:
        refresh_pool_gauges(database)
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    mark_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Metrics in Prometheus text format.",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    resources = getattr(request.app.state, "resources", None)
    database = getattr(resources, "database", None)
    return Response(render_metrics(database), media_type=CONTENT_TYPE_LATEST)
