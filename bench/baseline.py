"""The bare baseline the service is measured against: a raw ASGI callable, no framework, no ORM.

It serves only what the benchmark's workloads use (`GET /tasks?limit=&offset=`, `POST /tasks`,
`GET /tasks/{id}`, `PATCH /tasks/{id}`, `GET /health`), with the same SQL statements as the
service (copied from what SQLAlchemy emits), the same driver settings (psycopg 3 async,
prepare_threshold=5, statement_timeout), autocommit (one statement, one round trip, per
request, as the service sends it), PyJWT verification of
the same HS256 bearer token with the same checks (exp required, sub a non-empty string of at
most 255 characters, 30 s leeway) and the same JSON response bodies, rendered with orjson.
What it leaves out is what the comparison is about: routing, dependency injection, pydantic
validation and serialisation, SQLAlchemy's pool and statement compilation.

Configuration comes from the environment: DATABASE_URL (postgresql://...), JWT_SECRET and
BASELINE_POOL_SIZE (default 20, the service's DB_POOL_SIZE with no overflow).

Its connections are in baseline_pool.py; reading and checking a request (the JSON body, the
task fields) is in baseline_requests.py.

Run: uvicorn baseline:app --app-dir bench --no-access-log --no-server-header
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jwt
import orjson
from baseline_pool import ConnectionPool
from baseline_requests import (
    HTTPError,
    Receive,
    Scope,
    Send,
    create_body,
    parse_task_id,
    patch_body,
    read_json,
)
from psycopg import AsyncConnection

MAX_TOKEN_LENGTH = 8192
MAX_SUBJECT_LENGTH = 255
LEEWAY_SECONDS = 30

# The statements the service sends (SQLAlchemy's rendering, casts included), so PostgreSQL
# does the same work for both targets: the ETag computed with the row, and every write taking
# the next number of its owner's change counter in a CTE of the same statement.
_COLUMNS = (
    "tasks.id, tasks.list_id, tasks.parent_id, tasks.position, tasks.title, tasks.description, "
    "tasks.completed, tasks.priority, tasks.due_at, tasks.tags, tasks.created_at, "
    "tasks.updated_at, tasks.completed_at, "
    "'\"' || CAST(tasks.version AS VARCHAR) || '\"' AS etag"
)
_NEXT_VERSION = (
    "WITH seq AS \n(INSERT INTO change_counters (user_id, last_seq) VALUES "
    "(%(owner)s::VARCHAR, %(param_1)s::BIGINT) ON CONFLICT (user_id) DO UPDATE SET "
    "last_seq = (change_counters.last_seq + %(last_seq_1)s::BIGINT) "
    "RETURNING change_counters.last_seq)\n "
)
_VERSION = "(SELECT seq.last_seq \nFROM seq)"
# A new task's position: the key of its change number (tasks/positions.py).
_POSITION = (
    f"(chr(%(length_1)s::INTEGER + length(CAST({_VERSION} AS VARCHAR))) || "
    f"CAST({_VERSION} AS VARCHAR))"
)
_COUNTER_PARAMS = {"param_1": 1, "last_seq_1": 1}
INSERT_SQL = (
    f"{_NEXT_VERSION}INSERT INTO tasks (id, user_id, list_id, title, description, completed, "
    "priority, due_at, tags, created_at, updated_at, completed_at, position, version) VALUES "
    "(%(id)s::UUID, %(user_id)s::VARCHAR, %(list_id)s::UUID, %(title)s::VARCHAR, "
    "%(description)s::VARCHAR, %(completed)s, "
    "%(priority)s::SMALLINT, %(due_at)s::TIMESTAMP WITH TIME ZONE, %(tags)s::TEXT[], "
    "%(created_at)s::TIMESTAMP WITH TIME ZONE, %(updated_at)s::TIMESTAMP WITH TIME ZONE, "
    f"%(completed_at)s::TIMESTAMP WITH TIME ZONE, {_POSITION}, {_VERSION}) RETURNING {_COLUMNS}"
)
GET_SQL = (
    f"SELECT {_COLUMNS} \nFROM tasks \n"
    "WHERE tasks.id = %(task_id)s::UUID AND tasks.user_id = %(owner)s::VARCHAR"
)
LIST_SQL = (
    f"SELECT {_COLUMNS}, count(*) OVER () AS total \nFROM tasks \n"
    "WHERE tasks.user_id = %(owner)s::VARCHAR ORDER BY tasks.created_at DESC, "
    "tasks.id DESC \n LIMIT %(limit)s OFFSET %(offset)s"
)
COUNT_SQL = "SELECT count(*) AS count_1 \nFROM tasks \nWHERE tasks.user_id = %(owner)s::VARCHAR"
OWNER_SQL = "SELECT tasks.user_id \nFROM tasks \nWHERE tasks.id = %(task_id)s::UUID"
UPDATE_WHERE = (
    " WHERE tasks.id = %(task_id)s::UUID AND tasks.user_id = %(owner)s::VARCHAR "
    f"RETURNING {_COLUMNS}"
)
_SET_CLAUSES = {
    "title": "title=%(new_title)s::VARCHAR",
    "description": "description=%(new_description)s::VARCHAR",
}
_COMPLETED_SET = "completed=%(completed)s"
_COMPLETED_AT_SET = "completed_at=coalesce(tasks.completed_at, %(now)s::TIMESTAMP WITH TIME ZONE)"
_NOT_COMPLETED_AT_SET = "completed_at=%(completed_at)s"
# The names of _COLUMNS, in order: one string, where a literal would take a line per name.
_FIELDS = tuple(
    "id list_id parent_id position title description completed priority due_at tags "  # noqa: SIM905
    "created_at updated_at completed_at etag".split()
)
_TOTAL = len(_FIELDS)
_PRIORITY = _FIELDS.index("priority")
# Stored as a rank, spoken as a name.
PRIORITY_NAMES = ("none", "low", "medium", "high")


# The service's (src/todo_api/lists/models.py): a user's default list is uuid5 of the subject.
DEFAULT_LIST_NAMESPACE = uuid.UUID("6f1b0e4c-3a52-5d8e-9b7a-2c4d8e1f0a93")


def default_list_id(owner: str) -> uuid.UUID:
    return uuid.uuid5(DEFAULT_LIST_NAMESPACE, owner)


def _task(row: Any) -> dict[str, Any]:
    task = dict(zip(_FIELDS, row, strict=False))
    task["priority"] = PRIORITY_NAMES[row[_PRIORITY]]
    return task


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_INVALID_TOKEN = [(b"www-authenticate", b'Bearer error="invalid_token"')]


# The list page's next_cursor, as the service writes it (todo_api.opaque_tokens and
# tasks/cursors.py): a keyset cursor signed with a key derived from JWT_SECRET, bound to
# the user and to the query (here always the default sort and no filters).
_CURSOR_QUERY = hashlib.sha256(
    orjson.dumps(
        {
            "sort": "-created_at",
            "completed": None,
            "q": None,
            "priority": [],
            "tag": [],
            "due_before": None,
            "due_after": None,
        },
        option=orjson.OPT_SORT_KEYS,
    )
).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _next_cursor(key: bytes, owner: str, last: dict[str, Any]) -> str:
    body = orjson.dumps([last["created_at"].isoformat(), last["id"].hex])
    message = b"\0".join((b"list-cursor", owner.encode(), _CURSOR_QUERY.encode(), body))
    return f"{_b64(body)}.{_b64(hmac.digest(key, message, 'sha256')[:16])}"


class Baseline:
    def __init__(self) -> None:
        self.pool: ConnectionPool | None = None
        self.secret = ""
        self.cursor_key = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, body, headers = await self._route(scope, receive)
        except HTTPError as error:
            status, headers = error.status, error.headers
            body = orjson.dumps(
                {
                    "type": "about:blank",
                    "title": _TITLES.get(error.status, "Error"),
                    "status": error.status,
                    "detail": error.detail,
                }
            )
            headers = [*headers, (b"content-type", b"application/problem+json")]
        else:
            headers = [*headers, (b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.secret = os.environ["JWT_SECRET"]
                self.cursor_key = hmac.new(
                    self.secret.encode(), b"todo-api opaque tokens v1", hashlib.sha256
                ).digest()
                self.pool = ConnectionPool(
                    os.environ["DATABASE_URL"], int(os.environ.get("BASELINE_POOL_SIZE", "20"))
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health":
            return 200, b'{"status":"ok"}', []
        if path == "/tasks":
            owner = self._authenticate(scope)
            if method == "GET":
                return 200, await self._list(owner, scope["query_string"]), []
            if method == "POST":
                data = create_body(await read_json(receive))
                task = await self._create(owner, data)
                location = f"/tasks/{task['id']}".encode()
                headers = [(b"location", location), (b"etag", task["etag"].encode())]
                return 201, orjson.dumps(task, option=orjson.OPT_UTC_Z), headers
            raise HTTPError(405, "Method not allowed.")
        if path.startswith("/tasks/") and path.count("/") == 2:
            owner = self._authenticate(scope)
            task_id = parse_task_id(path[len("/tasks/") :])
            if method == "GET":
                task = await self._one(GET_SQL, {"task_id": task_id, "owner": owner}, task_id)
            elif method == "PATCH":
                changes = patch_body(await read_json(receive))
                task = await self._patch(owner, task_id, changes)
            else:
                raise HTTPError(405, "Method not allowed.")
            etag = [(b"etag", task["etag"].encode())]
            return 200, orjson.dumps(task, option=orjson.OPT_UTC_Z), etag
        raise HTTPError(404, "Not found.")

    def _authenticate(self, scope: Scope) -> str:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = credentials.strip()
                break
        if not token:
            raise HTTPError(401, "A bearer token is required.", [(b"www-authenticate", b"Bearer")])
        if len(token) > MAX_TOKEN_LENGTH:
            raise HTTPError(401, "The bearer token is invalid or expired.", _INVALID_TOKEN)
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise HTTPError(
                401, "The bearer token is invalid or expired.", _INVALID_TOKEN
            ) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
            raise HTTPError(401, "The bearer token is invalid or expired.", _INVALID_TOKEN)
        return subject

    def _connection(self) -> AbstractAsyncContextManager[AsyncConnection[Any]]:
        assert self.pool is not None
        return self.pool.connection()

    async def _list(self, owner: str, query_string: bytes) -> bytes:
        limit, offset = 50, 0
        for name, value in parse_qsl(query_string.decode("latin-1")):
            if name in ("limit", "offset"):
                try:
                    number = int(value)
                except ValueError:
                    raise HTTPError(422, f"{name} must be an integer.") from None
                if name == "limit":
                    if not 1 <= number <= 200:
                        raise HTTPError(422, "limit must be 1 to 200.")
                    limit = number
                else:
                    if not 0 <= number <= 2**63 - 1:
                        raise HTTPError(422, "offset must be 0 or more.")
                    offset = number
        params = {"owner": owner, "limit": limit, "offset": offset}
        async with self._connection() as conn:
            rows = await (await conn.execute(LIST_SQL, params)).fetchall()
            if rows:
                total = rows[0][_TOTAL]
            elif offset == 0:
                total = 0
            else:
                cursor = await conn.execute(COUNT_SQL, {"owner": owner})
                total = (await cursor.fetchone() or (0,))[0]
        items = [_task(row) for row in rows]
        more = offset + len(items) < total
        return orjson.dumps(
            {
                "items": items,
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_cursor": _next_cursor(self.cursor_key, owner, items[-1]) if more else None,
            },
            option=orjson.OPT_UTC_Z,
        )

    async def _create(self, owner: str, data: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        params = {
            "id": uuid.uuid4(),
            "user_id": owner,
            # The caller's default list, named by its id as the service does (the benchmark
            # seeds every user's default list).
            "list_id": default_list_id(owner),
            "title": data["title"],
            "description": data.get("description"),
            "completed": data.get("completed", False),
            "priority": 0,
            "due_at": None,
            "tags": [],
            "created_at": now,
            "updated_at": now,
            "completed_at": now if data.get("completed") else None,
            "owner": owner,
            **_COUNTER_PARAMS,
            "length_1": ord("a"),
        }
        async with self._connection() as conn:
            row = await (await conn.execute(INSERT_SQL, params)).fetchone()
        assert row is not None
        return _task(row)

    async def _one(self, sql: str, params: dict[str, Any], task_id: uuid.UUID) -> dict[str, Any]:
        async with self._connection() as conn:
            row = await (await conn.execute(sql, params)).fetchone()
            if row is None:
                found = await (await conn.execute(OWNER_SQL, {"task_id": task_id})).fetchone()
                if found is None:
                    raise HTTPError(404, "No task has this id.")
                raise HTTPError(403, "This task belongs to another user.")
        return _task(row)

    async def _patch(
        self, owner: str, task_id: uuid.UUID, changes: dict[str, Any]
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        clauses = [_SET_CLAUSES[name] for name in ("title", "description") if name in changes]
        params: dict[str, Any] = {
            **{
                f"new_{name}": changes[name] for name in ("title", "description") if name in changes
            },
            "now": now,
            "task_id": task_id,
            "owner": owner,
            **_COUNTER_PARAMS,
        }
        if "completed" in changes:
            params["completed"] = changes["completed"]
            clauses.append(_COMPLETED_SET)
        clauses.append("updated_at=%(now)s::TIMESTAMP WITH TIME ZONE")
        if "completed" in changes:
            if changes["completed"]:
                clauses.append(_COMPLETED_AT_SET)
            else:
                clauses.append(_NOT_COMPLETED_AT_SET)
                params["completed_at"] = None
        clauses.append(f"version={_VERSION}")
        sql = f"{_NEXT_VERSION}UPDATE tasks SET " + ", ".join(clauses) + UPDATE_WHERE
        return await self._one(sql, params, task_id)


app = Baseline()
