"""One statement per task operation, in autocommit: no BEGIN or COMMIT round trips.

What each request sends is observed at the driver of the app's own engine, below
SQLAlchemy: PostgreSQL's libpq protocol trace (every message, BEGIN and COMMIT included) and
SQLite's trace callback (every statement SQLite runs, the implicit BEGIN of Python's sqlite3
module included). The app runs with a pool of one connection, so that connection is the one
traced.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.servers import open_client
from todo_api.app import create_app
from todo_api.database import Database
from todo_api.settings import Settings
from todo_api.tasks.schemas import TaskCreate
from todo_api.tasks.service import TaskService

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|END)\b", re.IGNORECASE)
# Frontend messages of libpq's trace: a simple Query, or the Sync that ends an extended
# protocol exchange (Parse, Bind, Execute): each is one round trip.
_PG_ROUND_TRIP = re.compile(r'^F\t\d+\t(?:Query\t "(?P<query>.*)"|(?P<sync>Sync))', re.MULTILINE)
_PG_PARSE = re.compile(r'^F\t\d+\tParse\t "[^"]*" "(?P<sql>.*?)" \d', re.MULTILINE)
_PG_IN_TRANSACTION = re.compile(r"^B\t\d+\tReadyForQuery\t [TE]$", re.MULTILINE)


class DriverTrace:
    """What one connection of the app sent to the database while `observe()` ran."""

    def __init__(self, driver_connection: Any, backend: str) -> None:
        self.connection = driver_connection
        self.backend = backend
        self.sqlite_statements: list[str] = []

    @classmethod
    async def of(cls, engine: AsyncEngine) -> DriverTrace:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            trace = cls(raw.driver_connection, engine.dialect.name)
        if trace.backend == "sqlite":
            await trace.connection.set_trace_callback(trace.sqlite_statements.append)
        return trace

    @asynccontextmanager
    async def observe(self) -> AsyncIterator[Observed]:
        observed = Observed()
        if self.backend == "sqlite":
            start = len(self.sqlite_statements)
            yield observed
            # sqlite3 traces a statement again for each trigger program it runs (the change
            # feed's, database/change_feed.py): not statements the app sent.
            traced = self.sqlite_statements[start:]
            observed.statements = [s for i, s in enumerate(traced) if i == 0 or s != traced[i - 1]]
            observed.round_trips = len(observed.statements)
            return
        from psycopg import pq

        with tempfile.TemporaryFile("w+") as log:
            pgconn = self.connection.pgconn
            pgconn.trace(log.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield observed
            finally:
                pgconn.untrace()  # flushes the trace
            log.seek(0)
            messages = log.read()
        trips = list(_PG_ROUND_TRIP.finditer(messages))
        observed.round_trips = len(trips)
        observed.statements = [m["query"] for m in trips if m["query"]] + [
            m["sql"] for m in _PG_PARSE.finditer(messages)
        ]
        observed.left_a_transaction_open = bool(_PG_IN_TRANSACTION.search(messages))


class Observed:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.round_trips = 0
        self.left_a_transaction_open = False

    @property
    def transaction_control(self) -> list[str]:
        return [sql for sql in self.statements if _TRANSACTION_CONTROL.match(sql)]


@pytest.fixture
def traced_settings(settings_factory: Callable[..., Settings], database_backend: str) -> Settings:
    if database_backend not in ("sqlite", "postgresql"):
        pytest.skip("observed on a database of the test's own")
    # One connection, so it is the one traced; no idle ping, which would be a round trip of
    # its own after a slow step of the test.
    return settings_factory(db_pool_size=1, db_ping_after_idle_seconds=3600)


@pytest.fixture
async def traced_app(traced_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, App]]:
    app = create_app(traced_settings)
    async with open_client(app) as http:
        yield http, App(app, await DriverTrace.of(app.state.resources.database.engine))


class App:
    def __init__(self, app: FastAPI, trace: DriverTrace) -> None:
        self.app = app
        self.trace = trace


Operation = Callable[[httpx.AsyncClient, ApiUser, str], Awaitable[httpx.Response]]

OPERATIONS: dict[str, Operation] = {
    "create": lambda http, user, _: http.post("/tasks", json={"title": "t"}, headers=user.headers),
    "get": lambda http, user, task: http.get(f"/tasks/{task}", headers=user.headers),
    "list": lambda http, user, _: http.get("/tasks", headers=user.headers),
    "replace": lambda http, user, task: http.put(
        f"/tasks/{task}",
        json={"title": "r", "description": None, "completed": True},
        headers=user.headers,
    ),
    "patch": lambda http, user, task: http.patch(
        f"/tasks/{task}", json={"completed": True}, headers=user.headers
    ),
    "toggle": lambda http, user, task: http.patch(f"/tasks/{task}/toggle", headers=user.headers),
    "delete": lambda http, user, task: http.delete(f"/tasks/{task}", headers=user.headers),
}


WRITES = {"create", "replace", "patch", "toggle", "delete"}


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_a_task_operation_is_one_statement_without_begin_or_commit(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, operation: str
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice)
    async with app.trace.observe() as observed:
        response = await OPERATIONS[operation](http, alice, task["id"])
    assert response.is_success, response.text
    if app.trace.backend == "sqlite" and operation in WRITES:
        # SQLite cannot write in a CTE: the change counter's bump and the write are two
        # statements of one transaction there (calls into the library, no network).
        statements = _without_pragmas(observed.statements)
        assert _keywords(statements)[:2] + _keywords(statements)[-1:] == [
            "BEGIN",
            "INSERT",
            "COMMIT",
        ]
        assert "change_counters" in statements[1]
        # A delete also writes its tombstone for sync, in the same transaction.
        assert len(statements) == _SQLITE_STATEMENTS.get(operation, 4), statements
        return
    assert observed.transaction_control == []
    assert observed.round_trips == 1, observed.statements
    assert not observed.left_a_transaction_open


# BEGIN, the counter's bump, the write, COMMIT; and a delete's tombstone.
_SQLITE_STATEMENTS = {"delete": 5}


def _keywords(statements: list[str]) -> list[str]:
    return [sql.split()[0].upper() for sql in statements]


def _without_pragmas(statements: list[str]) -> list[str]:
    # Switching pysqlite between autocommit and a transaction sets a PRAGMA: a library call.
    return [sql for sql in statements if not sql.upper().startswith("PRAGMA")]


ConditionalOperation = Callable[[httpx.AsyncClient, ApiUser, str, str], Awaitable[httpx.Response]]

CONDITIONAL: dict[str, ConditionalOperation] = {
    "get": lambda http, user, task, etag: http.get(
        f"/tasks/{task}", headers={**user.headers, "If-None-Match": etag}
    ),
    "patch": lambda http, user, task, etag: http.patch(
        f"/tasks/{task}", json={"tags": ["x"]}, headers={**user.headers, "If-Match": etag}
    ),
    "toggle": lambda http, user, task, etag: http.patch(
        f"/tasks/{task}/toggle", headers={**user.headers, "If-Match": etag}
    ),
    "delete": lambda http, user, task, etag: http.delete(
        f"/tasks/{task}", headers={**user.headers, "If-Match": etag}
    ),
}


@pytest.mark.parametrize("operation", list(CONDITIONAL))
async def test_a_conditional_request_costs_what_the_plain_one_does(
    traced_app: tuple[httpx.AsyncClient, App], new_user: Callable[[], ApiUser], operation: str
) -> None:
    http, app = traced_app
    user = new_user()
    task = await TaskFactory(http)(user)
    async with app.trace.observe() as observed:
        response = await CONDITIONAL[operation](http, user, task["id"], task["etag"])
    assert response.status_code in (200, 204, 304), response.text
    if app.trace.backend == "sqlite" and operation != "get":
        statements = _without_pragmas(observed.statements)
        assert len(statements) == _SQLITE_STATEMENTS.get(operation, 4), statements
        return
    assert observed.transaction_control == []
    assert observed.round_trips == 1, observed.statements


async def test_a_failed_precondition_adds_only_the_ownership_query(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice)
    headers = {**alice.headers, "If-Match": '"999999"'}
    async with app.trace.observe() as observed:
        response = await http.patch(f"/tasks/{task['id']}", json={"title": "x"}, headers=headers)
    assert_problem(response, 412)
    if app.trace.backend == "postgresql":
        assert observed.round_trips == 2, observed.statements
    else:  # BEGIN, the counter, the write, COMMIT, then the look-up
        assert len(_without_pragmas(observed.statements)) == 5, observed.statements


async def test_registration_is_one_statement_without_begin_or_commit(
    traced_app: tuple[httpx.AsyncClient, App],
) -> None:
    http, app = traced_app
    body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "a long enough password"}
    async with app.trace.observe() as observed:
        response = await http.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    assert observed.transaction_control == []
    assert observed.round_trips == 1, observed.statements


async def test_a_miss_adds_only_the_query_that_tells_403_from_404(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, bob: ApiUser
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice)
    async with app.trace.observe() as observed:
        response = await http.get(f"/tasks/{task['id']}", headers=bob.headers)
    assert_problem(response, 403)
    assert observed.transaction_control == []
    assert observed.round_trips == 2, observed.statements


async def test_a_transaction_commits_its_statements_together_then_the_connection_autocommits(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser
) -> None:
    http, app = traced_app
    database: Database = app.app.state.resources.database
    async with app.trace.observe() as observed, database.transaction() as connection:
        await connection.execute(text("SELECT 1"))
        await connection.execute(text("SELECT 2"))
    assert [sql.split()[0].upper() for sql in observed.transaction_control] == ["BEGIN", "COMMIT"]
    async with app.trace.observe() as after:
        assert (await http.get("/tasks", headers=alice.headers)).status_code == 200
    assert after.transaction_control == []
    assert after.round_trips == 1


async def test_a_transaction_that_raises_is_rolled_back(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser
) -> None:
    http, app = traced_app
    database: Database = app.app.state.resources.database
    title = f"never {uuid.uuid4().hex}"

    async def create_then_fail() -> None:
        async with database.transaction() as connection:
            await TaskService.on(connection, alice.sub).create(TaskCreate(title=title))
            raise LookupError

    with pytest.raises(LookupError):
        await create_then_fail()
    page = (await http.get("/tasks", headers=alice.headers, params={"q": title})).json()
    assert page["total"] == 0


async def _cursor_page_params(http: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    await TaskFactory(http)(user)
    first = await http.get("/tasks", params={"limit": 1}, headers=user.headers)
    return {"limit": 1, "cursor": first.json()["next_cursor"]}


async def _changes_params(http: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    first = await http.get("/tasks/changes", headers=user.headers)
    return {"since": first.json()["next_since"]}


async def _no_params(_http: httpx.AsyncClient, _user: ApiUser) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize(
    ("path", "prepare"),
    [
        ("/tasks/changes", _no_params),
        ("/tasks/changes", _changes_params),
        ("/tasks", _cursor_page_params),
    ],
    ids=["changes", "changes since a token", "list by cursor"],
)
async def test_sync_and_cursor_pages_are_one_statement(
    traced_app: tuple[httpx.AsyncClient, App],
    alice: ApiUser,
    path: str,
    prepare: Callable[[httpx.AsyncClient, ApiUser], Awaitable[dict[str, Any]]],
) -> None:
    http, app = traced_app
    await TaskFactory(http)(alice)
    params = await prepare(http, alice)
    async with app.trace.observe() as observed:
        response = await http.get(path, params=params, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert observed.transaction_control == []
    assert observed.round_trips == 1, observed.statements
    assert not observed.left_a_transaction_open


async def _new_list(http: httpx.AsyncClient, user: ApiUser) -> str:
    made = await http.post("/lists", json={"name": uuid.uuid4().hex}, headers=user.headers)
    assert made.status_code == 201, made.text
    list_id: str = made.json()["id"]
    return list_id


ListOperation = Callable[[httpx.AsyncClient, ApiUser, str, str], Awaitable[httpx.Response]]

IN_LISTS: dict[str, ListOperation] = {
    "create in a list": lambda http, user, _task, list_id: http.post(
        "/tasks", json={"title": "t", "list_id": list_id}, headers=user.headers
    ),
    "move to a list": lambda http, user, task, list_id: http.patch(
        f"/tasks/{task}", json={"list_id": list_id}, headers=user.headers
    ),
    "list one list": lambda http, user, _task, list_id: http.get(
        "/tasks", params={"list_id": list_id}, headers=user.headers
    ),
    "all lists": lambda http, user, _task, _list_id: http.get("/lists", headers=user.headers),
    "one list": lambda http, user, _task, list_id: http.get(
        f"/lists/{list_id}", headers=user.headers
    ),
    "rename a list": lambda http, user, _task, list_id: http.patch(
        f"/lists/{list_id}", json={"name": uuid.uuid4().hex}, headers=user.headers
    ),
}


@pytest.mark.parametrize("operation", list(IN_LISTS))
async def test_list_operations_are_one_statement_on_postgresql(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, operation: str
) -> None:
    http, app = traced_app
    task = await TaskFactory(http)(alice)
    list_id = await _new_list(http, alice)
    async with app.trace.observe() as observed:
        response = await IN_LISTS[operation](http, alice, task["id"], list_id)
    assert response.is_success, response.text
    if app.trace.backend == "sqlite":
        return  # writes there are the counter's bump and the write, as for tasks
    assert observed.transaction_control == []
    assert observed.round_trips == 1, observed.statements


async def test_only_a_new_users_first_task_makes_the_default_list(
    traced_app: tuple[httpx.AsyncClient, App], new_user: Callable[[], ApiUser]
) -> None:
    http, app = traced_app
    user = new_user()
    async with app.trace.observe() as first:
        assert (await http.post("/tasks", json={"title": "1"}, headers=user.headers)).is_success
    async with app.trace.observe() as second:
        assert (await http.post("/tasks", json={"title": "2"}, headers=user.headers)).is_success
    if app.trace.backend == "postgresql":
        # The insert the foreign key refuses, the list's insert-if-absent, the insert again.
        assert first.round_trips == 3, first.statements
        assert second.round_trips == 1, second.statements
    else:
        assert "task_lists" in " ".join(first.statements)
        assert "task_lists" not in " ".join(second.statements)
        assert len(_without_pragmas(second.statements)) == 4, second.statements
