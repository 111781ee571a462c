"""A task's response, and how the task writes that accept `Idempotency-Key` run once.

Every route that answers with one task renders it here, to bytes. The keyed writes store
those bytes for replays, so a replay is byte for byte the first answer, and GET and PUT
answer with the same bytes as the writes (FastAPI's response-model pass wrote the same
JSON, for about 1 us more).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec, Protocol, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from todo_api.database import run_in_transaction, utc_now
from todo_api.idempotency.keys import idempotency_key, request_fingerprint
from todo_api.idempotency.store import KeyClaim, StoredResponse, respond_once
from todo_api.state import resources_of
from todo_api.tasks.schemas import TaskRead

P = ParamSpec("P")
T = TypeVar("T")


class OwnersConnection(Protocol):
    """A repository of one owner's rows (tasks, lists): whose they are, and its connection."""

    @property
    def owner(self) -> str: ...

    async def connection(self) -> AsyncConnection: ...


_JSON = "application/json"


def _body(task: TaskRead) -> bytes:
    return orjson.dumps(task.model_dump(), option=orjson.OPT_UTC_Z)


def created_task(task: TaskRead) -> StoredResponse:
    headers = {"content-type": _JSON, "location": f"/tasks/{task.id}", "etag": task.etag}
    return StoredResponse(201, _body(task), headers)


def current_task(task: TaskRead) -> StoredResponse:
    return StoredResponse(200, _body(task), {"content-type": _JSON, "etag": task.etag})


async def write_once(
    request: Request,
    tasks: OwnersConnection,
    render: Callable[[T], StoredResponse],
    operation: Callable[P, Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response:
    """Run a write on `tasks`' connection (a task's, a list's); with an Idempotency-Key, at
    most once per key.

    Without a key: the write alone, one statement in autocommit. With one: the claim, the
    write and the stored response in one transaction on the same connection (see
    idempotency/store.py), run once more if the connection is lost under it.
    """
    key = idempotency_key(request.scope["headers"])
    if key is None:
        return render(await operation(*args, **kwargs)).to_response()
    now = utc_now()
    ttl = resources_of(request).settings.idempotency_key_ttl_seconds
    claim = KeyClaim(
        owner=tasks.owner,
        key=key,
        fingerprint=request_fingerprint(
            request.method, request.scope["path"], await request.body()
        ),
        now=now,
        expires_at=now + timedelta(seconds=ttl),
    )

    async def produce() -> StoredResponse:
        return render(await operation(*args, **kwargs))

    connection = await tasks.connection()

    async def keyed() -> tuple[StoredResponse, bool]:
        return await respond_once(connection, claim, produce)

    # The whole keyed transaction may run again after a lost connection: the claim, the
    # write and the stored response commit together or not at all, so a second run either
    # starts afresh (the first rolled back) or finds the stored response (the first
    # committed, its answer lost) and replays it, marked Idempotent-Replayed. A first run
    # the server is still finishing holds the key's lock: the second answers 409.
    response, replayed = await run_in_transaction(connection, keyed, safe_to_repeat=True)
    return response.to_response(replayed=replayed)
