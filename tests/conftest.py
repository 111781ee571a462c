"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

Set TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) to add
PostgreSQL: the run creates a fresh database, migrates it, and drops it at the end. When the
variable is set and PostgreSQL does not answer, the run fails; it is never skipped.
Each test owns its data by acting as users nobody else uses, so nothing is cleaned up.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.jwks_server import JwksServer
from tests.servers import open_client
from tests.tcp_proxy import TcpProxy, tcp_proxy
from todo_api import migrations
from todo_api.app import create_app
from todo_api.settings import Settings

TEST_SECRET = "test-secret-that-is-long-enough-for-production-use"
POSTGRES_ENV = "TEST_POSTGRES_URL"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"
# The fields of a task in every response, as API.md lists them.
# Every value of `sort` that API.md lists.
SORTS = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "due_at",
    "-due_at",
    "priority",
    "-priority",
]
TASK_FIELDS = {
    "id",
    "list_id",
    "parent_id",
    "position",
    "title",
    "description",
    "completed",
    "created_at",
    "updated_at",
    "completed_at",
    "priority",
    "due_at",
    "tags",
    "recurrence",
    "etag",
}


# Set up by `.ci/neon-like`: a TLS + scram PostgreSQL used with sslmode=require and
# channel_binding=require, and PgBouncer in transaction mode in front of it. Both hold one
# shared database, so only the task modules run there (each test owns its users' data).
NEONLIKE_ENVS = {"neonlike": "TEST_NEONLIKE_URL", "pgbouncer": "TEST_PGBOUNCER_URL"}
NEONLIKE_MODULES = {"tests.test_tasks", "tests.test_task_list", "tests.test_concurrency"}
# Slow modules whose subject does not depend on the database (fuzzing the HTTP contract,
# forged tokens, the OpenAPI document, the command-line client) run on one backend:
# PostgreSQL when it is configured, else SQLite. The client only ever sees HTTP, and the
# routes it calls are tested on every backend by the API's own modules.
ONE_BACKEND_MODULES = {
    "tests.test_fuzz_openapi",
    "tests.test_jwt_attacks",
    "tests.test_openapi",
    "tests.test_openapi_examples",
    "tests.test_todo_cli",
    "tests.test_todo_cli_tasks",
    "tests.test_todo_cli_lists",
    "tests.test_todo_cli_app_passwords",
    "tests.test_todo_cli_placement",
    "tests.test_todo_cli_recurrence",
    "tests.test_todo_cli_debug",
    "tests.test_todo_cli_network",
    "tests.test_todo_cli_terminal",
    "tests.test_dav_client",
    "tests.test_dav_fuzz",
    "tests.test_dav_vdirsyncer",
    "tests.test_events_browser",
    "tests.test_todo_cli_watch",
}


def backends() -> list[str]:
    """Backends where tests may create empty databases of their own."""
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


def task_backends() -> list[str]:
    return backends() + [name for name, env in NEONLIKE_ENVS.items() if os.environ.get(env)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_backend") if callspec else None
        module = getattr(getattr(item, "module", None), "__name__", "")
        neonlike_elsewhere = backend in NEONLIKE_ENVS and module not in NEONLIKE_MODULES
        one_backend_only = module in ONE_BACKEND_MODULES and backend not in (None, backends()[-1])
        (dropped if neonlike_elsewhere or one_backend_only else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") == "true" and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"CI must test PostgreSQL too: set {POSTGRES_ENV}")


def pytest_report_header() -> str:
    return f"database backends: {', '.join(task_backends())}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.fail(f"{POSTGRES_ENV} is not set")
    return url


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def fresh_postgres_database(postgres_admin_url: str) -> Iterator[Callable[[], str]]:
    """Creates empty PostgreSQL databases on demand and drops them all at the end."""
    created: list[str] = []
    admin = _libpq(postgres_admin_url)

    def create() -> str:
        name = f"todo_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return make_url(postgres_admin_url).set(database=name).render_as_string(False)

    yield create
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        for name in created:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def migrated_postgres_url(request: pytest.FixtureRequest) -> str:
    """A new, migrated PostgreSQL database for tests that only make sense there."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}")
    factory: Callable[[], str] = request.getfixturevalue("fresh_postgres_database")
    url = factory()
    migrations.upgrade(make_url(url))
    return url


@pytest.fixture
def proxy(migrated_postgres_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of a new, migrated PostgreSQL database, for network failures."""
    url = make_url(migrated_postgres_url)
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture(scope="session")
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """Returns a URL of a new, empty database of the given backend."""

    def create(backend: str) -> str:
        if backend == "sqlite":
            folder = tmp_path_factory.mktemp("sqlite")
            return f"sqlite+aiosqlite:///{folder / 'todo.db'}"
        factory: Callable[[], str] = request.getfixturevalue("fresh_postgres_database")
        return factory()

    return create


@pytest.fixture(scope="session", params=task_backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def database_url(database_backend: str, empty_database_url: Callable[[str], str]) -> str:
    """A migrated database of each configured backend, shared by the tests of one run."""
    if database_backend in NEONLIKE_ENVS:
        url = os.environ[NEONLIKE_ENVS[database_backend]]
        # Migrations take the direct URL, as DATABASE_MIGRATION_URL does in production.
        migrations.upgrade(make_url(os.environ.get("TEST_NEONLIKE_URL", url)))
        return url
    url = empty_database_url(database_backend)
    migrations.upgrade(make_url(url))
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings of a test app: the test secret, JSON logs, and limits too high to matter
    (the rate-limit tests set their own)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "environment": "development",
        "log_format": "json",
        "db_startup_wait_seconds": 5,
        "rate_limit_auth": "1000000000/minute",
        "rate_limit_tasks": "1000000000/minute",
        "rate_limit_login_failures": "1000000000/minute",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        # PgBouncer here is declared nowhere (no DB_POOLED, no `-pooler` host): the app
        # finds out by itself, as it must for a new user.
        url = overrides.pop("database_url", database_url)
        return make_settings(url, **overrides)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(app) as http:
        yield http


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """A live JWKS endpoint on loopback, publishing nothing until a test says so."""
    server = JwksServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL, or a local Redis if one listens; a configured one must answer."""
    configured = os.environ.get("TEST_REDIS_URL")
    url = configured or DEFAULT_TEST_REDIS_URL
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1).close()
    except OSError:
        if configured:
            pytest.fail(f"TEST_REDIS_URL={url} does not answer")
        pytest.skip("no Redis at 127.0.0.1:6379; set TEST_REDIS_URL")
    return url


def make_token(
    sub: object = None,
    *,
    secret: str = TEST_SECRET,
    algorithm: str = "HS256",
    lifetime: timedelta = timedelta(minutes=5),
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A token as a sign-in layer would mint it; tests bend one claim at a time."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": sub if sub is not None else f"user-{uuid.uuid4().hex}",
        "iat": now,
        "exp": now + lifetime,
        **claims,
    }
    for name in drop:
        payload.pop(name, None)
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ApiUser:
    """Someone calling the API with a valid token of their own."""

    sub: str
    headers: dict[str, str]


@pytest.fixture
def new_user() -> Callable[[], ApiUser]:
    def make() -> ApiUser:
        sub = f"user-{uuid.uuid4().hex}"
        return ApiUser(sub=sub, headers=bearer(make_token(sub)))

    return make


@pytest.fixture
def alice(new_user: Callable[[], ApiUser]) -> ApiUser:
    return new_user()


@pytest.fixture
def bob(new_user: Callable[[], ApiUser]) -> ApiUser:
    return new_user()


class TaskFactory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, user: ApiUser, **fields: Any) -> dict[str, Any]:
        body = {"title": f"task {uuid.uuid4().hex[:8]}", **fields}
        response = await self.client.post("/tasks", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task


@pytest.fixture
def create_task(client: httpx.AsyncClient) -> TaskFactory:
    return TaskFactory(client)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert "Traceback" not in response.text
    return body
