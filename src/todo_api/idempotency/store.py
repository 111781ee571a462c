"""Claiming a key, storing the response, and replaying it.

A request with a key runs in ONE transaction: claim the key (insert its row), do the write,
store the response in the row, commit. The task's write and its stored response therefore
commit together or not at all: a crash, a lost connection or a 5xx anywhere before the
commit rolls the claim back with the write, so the key is free again and a retry runs
afresh, and a retry can never find the write done without its response (or the reverse).
(A claim committed on its own, released after a failure, would instead stay "running"
after a crash until a lease ran out.)

While that transaction runs its row is invisible to others. On PostgreSQL the claim first
takes a transaction-scoped advisory lock on (user, key) with `pg_try_advisory_xact_lock`,
so a concurrent duplicate finds the lock taken and answers 409 at once instead of queueing
on the row; the lock goes with the commit or rollback. SQLite runs one writer at a time, and
the claim (an INSERT) is each transaction's first statement, so a duplicate waits for the
first to commit and then replays its response.

Requests without a key never come here: they cost no statement and no lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from todo_api.database import UTCDateTime
from todo_api.errors import PROBLEM_MEDIA_TYPE, AppError, ConflictError, InvalidParameterError
from todo_api.errors import problem_response as build_problem_response

REPLAYED_HEADER = "Idempotent-Replayed"
# A claim that finds neither the lock nor a row tries again: the row it conflicted with may
# have expired and been pruned in between. More than a couple of rounds means contention.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    # Content-Type, and Location and ETag when the response has them.
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self, *, replayed: bool = False) -> Response:
        headers = {**self.headers, REPLAYED_HEADER: "true"} if replayed else self.headers
        return Response(self.body, status_code=self.status, headers=headers)


@dataclass(frozen=True, slots=True)
class KeyClaim:
    owner: str
    key: str
    fingerprint: str
    now: datetime
    expires_at: datetime

    @property
    def lock_id(self) -> int:
        # 64 bits of a hash of (user, key); a collision would only make two unrelated keys
        # wait for each other (409) for the length of one request.
        digest = hashlib.blake2b(f"{self.owner}\0{self.key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def params(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "key": self.key,
            "request_hash": self.fingerprint,
            "now": self.now,
            "expires_at": self.expires_at,
        }


def _timestamps(statement: TextClause, *names: str) -> TextClause:
    return statement.bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names))


# One round trip: the lock, the claim, and (from the statement's snapshot) the row that
# stopped the claim. An expired row counts as absent: the claim takes it over (ON CONFLICT
# ... WHERE expired), whether or not the pruner has removed it yet.
_CLAIM_POSTGRES = _timestamps(
    text("""
    WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(:lock_id) AS held),
    claimed AS (
        INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, expires_at)
        SELECT :owner, :key, :request_hash, :now, :expires_at FROM lock WHERE lock.held
        ON CONFLICT (user_id, key) DO UPDATE SET
            request_hash = excluded.request_hash, status = NULL, body = NULL, headers = NULL,
            created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE idempotency_keys.expires_at <= excluded.created_at
        RETURNING 1
    )
    SELECT lock.held, EXISTS (SELECT FROM claimed) AS claimed,
           stored.request_hash, stored.status, stored.body, stored.headers
    FROM lock LEFT JOIN idempotency_keys AS stored
        ON stored.user_id = :owner AND stored.key = :key AND stored.expires_at > :now
    """),
    "now",
    "expires_at",
)
_CLAIM_SQLITE = _timestamps(
    text("""
    INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, expires_at)
    VALUES (:owner, :key, :request_hash, :now, :expires_at)
    ON CONFLICT (user_id, key) DO UPDATE SET
        request_hash = excluded.request_hash, status = NULL, body = NULL, headers = NULL,
        created_at = excluded.created_at, expires_at = excluded.expires_at
    WHERE idempotency_keys.expires_at <= excluded.created_at
    RETURNING 1
    """),
    "now",
    "expires_at",
)
_STORED = _timestamps(
    text("""
    SELECT request_hash, status, body, headers FROM idempotency_keys
    WHERE user_id = :owner AND key = :key AND expires_at > :now
    """),
    "now",
)
_COMPLETE = text("""
    UPDATE idempotency_keys SET status = :status, body = :body, headers = :headers
    WHERE user_id = :owner AND key = :key
""")


async def _claim(connection: AsyncConnection, claim: KeyClaim) -> Row[Any] | None:
    """None once this transaction holds the key; otherwise the committed row for it."""
    params = claim.params()
    for _ in range(_CLAIM_ATTEMPTS):
        if connection.dialect.name == "postgresql":
            result = await connection.execute(_CLAIM_POSTGRES, {**params, "lock_id": claim.lock_id})
            row = result.one()
            if row.claimed:
                return None
            if row.request_hash is not None:
                return row
            if not row.held:
                raise ConflictError(_RUNNING)
        elif (await connection.execute(_CLAIM_SQLITE, params)).first() is not None:
            return None
        # The row that stopped the claim committed after this statement's snapshot began,
        # or (SQLite) this is the first look: read it with a fresh snapshot.
        stored = (await connection.execute(_STORED, params)).first()
        if stored is not None:
            return stored
    raise ConflictError(_RUNNING)


_RUNNING = "A request with this Idempotency-Key is still running; retry after it completes."


def _problem(error: AppError) -> StoredResponse:
    rendered = build_problem_response(
        error.status, error.detail, headers=error.headers, errors=error.errors
    )
    return StoredResponse(
        error.status, bytes(rendered.body), {"content-type": PROBLEM_MEDIA_TYPE, **error.headers}
    )


async def respond_once(
    connection: AsyncConnection, claim: KeyClaim, produce: Callable[[], Awaitable[StoredResponse]]
) -> tuple[StoredResponse, bool]:
    """The response for a keyed request, and whether it is a replay.

    Runs inside the request's transaction (see `in_transaction`). A 4xx from `produce` is
    stored like a success (the contract stores every status below 500); anything else
    propagates and rolls back the claim with whatever was written.
    """
    stored = await _claim(connection, claim)
    if stored is not None:
        if stored.request_hash != claim.fingerprint:
            raise InvalidParameterError(
                ["header", "Idempotency-Key"],
                "already used for a different request (method, path or body)",
                "idempotency_key_reused",
            )
        if stored.status is None:
            raise ConflictError(_RUNNING)
        headers: dict[str, str] = orjson.loads(stored.headers or "{}")
        return StoredResponse(stored.status, (stored.body or "").encode(), headers), True
    try:
        response = await produce()
    except AppError as error:
        if error.status >= 500:
            raise
        response = _problem(error)
    await connection.execute(
        _COMPLETE,
        {
            "owner": claim.owner,
            "key": claim.key,
            "status": response.status,
            "body": response.body.decode(),
            "headers": orjson.dumps(response.headers).decode(),
        },
    )
    return response, False
