"""`KeyRepository`: the `idempotency_keys` rows of one request's transaction.

The claim differs by dialect, both forms side by side in `try_claim`. On PostgreSQL the claim
first takes a transaction-scoped advisory lock on (user, key) with
`pg_try_advisory_xact_lock`, so a concurrent duplicate finds the lock taken at once instead
of queueing on the row; the lock goes with the commit or rollback. SQLite runs one writer at
a time, and the claim (an INSERT) is each transaction's first statement, so a duplicate
waits for the first to commit and then finds its row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Row

from todo_api.connections import RequestConnection
from todo_api.database import UTCDateTime


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


@dataclass(frozen=True, slots=True)
class ClaimAttempt:
    """What one claim found: the key is now this transaction's (`claimed`); or the row
    that stopped it, as its statement saw it (`stored`, None when it could not see it);
    `held` is false when another transaction holds the key's lock (PostgreSQL)."""

    claimed: bool
    held: bool = True
    stored: Row[Any] | None = None


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


class KeyRepository:
    """Statements of a keyed request, run in its transaction on the request's connection."""

    __slots__ = ("connection",)

    def __init__(self, connection: RequestConnection) -> None:
        self.connection = connection

    async def try_claim(self, claim: KeyClaim) -> ClaimAttempt:
        connection = await self.connection.get()
        params = claim.params()
        if connection.dialect.name == "postgresql":
            params["lock_id"] = claim.lock_id
            row = (await connection.execute(_CLAIM_POSTGRES, params)).one()
            stored = row if row.request_hash is not None else None
            return ClaimAttempt(claimed=bool(row.claimed), held=bool(row.held), stored=stored)
        claimed = (await connection.execute(_CLAIM_SQLITE, params)).first() is not None
        return ClaimAttempt(claimed=claimed)

    async def stored(self, claim: KeyClaim) -> Row[Any] | None:
        """The key's row (request_hash, status, body, headers) with a fresh snapshot."""
        connection = await self.connection.get()
        return (await connection.execute(_STORED, claim.params())).first()

    async def complete(self, claim: KeyClaim, status: int, body: str, headers: str) -> None:
        connection = await self.connection.get()
        await connection.execute(
            _COMPLETE,
            {
                "owner": claim.owner,
                "key": claim.key,
                "status": status,
                "body": body,
                "headers": headers,
            },
        )
