"""Sync tokens of `GET /tasks/changes`: how far a client's replica has caught up.

A token carries a position in its user's change sequence (see `changes.py` for why that
sequence follows commit order) and the time from which the tombstones it still needs were
kept, sealed by `OpaqueTokens` for the user. Past SYNC_TOMBSTONE_DAYS the tombstones it
relies on may be pruned, so the token is refused with 410 and the client starts again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from todo_api.errors import GoneError, InvalidParameterError
from todo_api.opaque_tokens import InvalidOpaqueTokenError, OpaqueTokens

_PURPOSE = "sync-token"


@dataclass(frozen=True, slots=True)
class SyncPosition:
    """How far a replica has caught up: every change before (`seq`, `after_id`) in the order
    (sequence number, task id), where None for `after_id` means all of `seq` itself. The id
    only matters for tasks older than the change counter, which all share version 0, when a
    page ends among them. The deletions the replica still needs were all made at or after
    `since_time`."""

    seq: int
    since_time: datetime
    after_id: uuid.UUID | None = None


def encode_sync_token(tokens: OpaqueTokens, owner: str, position: SyncPosition) -> str:
    after = None if position.after_id is None else position.after_id.hex
    return tokens.seal(_PURPOSE, owner, [position.seq, int(position.since_time.timestamp()), after])


def _invalid() -> InvalidParameterError:
    return InvalidParameterError(
        ["query", "since"], "not a sync token issued to you by this service", "sync_token_invalid"
    )


def decode_sync_token(
    tokens: OpaqueTokens, owner: str, token: str, *, now: datetime, keep_days: int
) -> SyncPosition:
    try:
        payload = tokens.open(_PURPOSE, owner, token)
    except InvalidOpaqueTokenError:
        raise _invalid() from None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and all(type(number) is int and number >= 0 for number in payload[:2])
        and (payload[2] is None or isinstance(payload[2], str))
    ):
        raise _invalid()
    seq, issued, after = payload
    try:
        since_time = datetime.fromtimestamp(issued, UTC)
        after_id = None if after is None else uuid.UUID(hex=after)
    except (OverflowError, OSError, ValueError):
        raise _invalid() from None
    if since_time < now - timedelta(days=keep_days):
        raise GoneError(
            f"This sync token is older than the {keep_days} days for which deletions are "
            "kept; sync again from the start, without `since`."
        )
    return SyncPosition(seq, since_time, after_id)
