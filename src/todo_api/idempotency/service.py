"""Writes under an `Idempotency-Key`: claim the key, write, store the response, replay it.

A request with a key runs in ONE transaction: claim the key (insert its row), do the write,
store the response in the row, commit. The write and its stored response therefore commit
together or not at all: a crash, a lost connection or a 5xx anywhere before the commit rolls
the claim back with the write, so the key is free again and a retry runs afresh, and a retry
can never find the write done without its response (or the reverse). (A claim committed on
its own, released after a failure, would instead stay "running" after a crash until a lease
ran out.) While that transaction runs its row is invisible to others; a concurrent duplicate
answers 409 (repository.py says how each database tells).

Requests without a key never come here: they cost no statement and no lookup. Any feature's
keyed write (tasks today, lists next) goes through `IdempotencyService.respond_once`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.engine import Row
from starlette.responses import Response

from todo_api.connections import RequestConnection
from todo_api.database import utc_now
from todo_api.errors import PROBLEM_MEDIA_TYPE, AppError, ConflictError, InvalidParameterError
from todo_api.errors import problem_response as build_problem_response
from todo_api.idempotency.keys import IdempotentRequest
from todo_api.idempotency.repository import KeyClaim, KeyRepository

REPLAYED_HEADER = "Idempotent-Replayed"
# A claim that finds neither the lock nor a row tries again: the row it conflicted with may
# have expired and been pruned in between. More than a couple of rounds means contention.
_CLAIM_ATTEMPTS = 3
_RUNNING = "A request with this Idempotency-Key is still running; retry after it completes."


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as the key's row keeps it; `replayed` when it is the stored one again."""

    status: int
    body: bytes
    # Content-Type, and Location and ETag when the response has them.
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False

    def to_response(self) -> Response:
        headers = {**self.headers, REPLAYED_HEADER: "true"} if self.replayed else self.headers
        return Response(self.body, status_code=self.status, headers=headers)


Produce = Callable[[], Awaitable[StoredResponse]]


class IdempotencyService:
    """The keyed writes of `owner` on the request's connection."""

    __slots__ = ("_keys", "connection", "owner", "ttl")

    def __init__(self, connection: RequestConnection, owner: str, ttl: timedelta) -> None:
        self.connection = connection
        self.owner = owner
        self.ttl = ttl
        self._keys = KeyRepository(connection)

    async def respond_once(
        self, request: IdempotentRequest | None, produce: Produce
    ) -> StoredResponse:
        """`produce`'s response; with a key, at most once per key (the first response again,
        marked replayed, for a repeat).

        Without a key: `produce` alone, whatever it runs (one statement in autocommit, for a
        task write). With one: the claim, `produce` and the stored response in one
        transaction, run once more if the connection is lost under it. That second run is
        safe: the first either rolled back (the second starts afresh) or committed, its
        answer lost (the second finds the stored response and replays it). A first run the
        server is still finishing holds the key's lock: the second answers 409.
        """
        if request is None:
            return await produce()
        now = utc_now()
        claim = KeyClaim(
            owner=self.owner,
            key=request.key,
            fingerprint=request.fingerprint,
            now=now,
            expires_at=now + self.ttl,
        )

        async def keyed() -> StoredResponse:
            return await self._answer(claim, produce)

        return await self.connection.transaction(keyed, safe_to_repeat=True)

    async def _answer(self, claim: KeyClaim, produce: Produce) -> StoredResponse:
        """Inside the transaction. A 4xx from `produce` is stored like a success (the contract
        stores every status below 500); anything else propagates and rolls back the claim
        with whatever was written."""
        stored = await self._claim(claim)
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
            body = (stored.body or "").encode()
            return StoredResponse(stored.status, body, headers, replayed=True)
        try:
            response = await produce()
        except AppError as error:
            if error.status >= 500:
                raise
            response = _problem(error)
        await self._keys.complete(
            claim, response.status, response.body.decode(), orjson.dumps(response.headers).decode()
        )
        return response

    async def _claim(self, claim: KeyClaim) -> Row[Any] | None:
        """None once this transaction holds the key; otherwise the committed row for it."""
        for _ in range(_CLAIM_ATTEMPTS):
            attempt = await self._keys.try_claim(claim)
            if attempt.claimed:
                return None
            if attempt.stored is not None:
                return attempt.stored
            if not attempt.held:
                raise ConflictError(_RUNNING)
            # The row that stopped the claim committed after the claim's snapshot began, or
            # (SQLite) this is the first look: read it with a fresh snapshot.
            stored = await self._keys.stored(claim)
            if stored is not None:
                return stored
        raise ConflictError(_RUNNING)


def _problem(error: AppError) -> StoredResponse:
    rendered = build_problem_response(
        error.status, error.detail, headers=error.headers, errors=error.errors
    )
    return StoredResponse(
        error.status, bytes(rendered.body), {"content-type": PROBLEM_MEDIA_TYPE, **error.headers}
    )
