"""Cursors and sync tokens: opaque, unforgeable, bound to their user, query and purpose."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from todo_api.database import utc_now
from todo_api.errors import GoneError, InvalidParameterError
from todo_api.opaque_tokens import InvalidOpaqueTokenError, OpaqueTokens
from todo_api.tasks.cursors import Cursor, decode_cursor, encode_cursor, query_fingerprint
from todo_api.tasks.sync_tokens import SyncPosition, decode_sync_token, encode_sync_token

TOKENS = OpaqueTokens("a secret of the service that is long enough")
QUERY = query_fingerprint({"sort": "-created_at", "completed": None})
TASK_ID = uuid.uuid4()


def test_a_cursor_round_trips_for_its_user_and_query() -> None:
    for value in ("2026-11-30T17:00:00.123456+00:00", "a title", 3, None):
        cursor = encode_cursor(TOKENS, "alice", QUERY, value, TASK_ID)
        assert decode_cursor(TOKENS, "alice", QUERY, cursor) == Cursor(value, TASK_ID)


def test_the_query_fingerprint_ignores_key_order_only() -> None:
    assert query_fingerprint({"a": 1, "b": [1, 2]}) == query_fingerprint({"b": [1, 2], "a": 1})
    assert query_fingerprint({"a": 1}) != query_fingerprint({"a": 2})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: ("e" if token[0] != "e" else "f") + token[1:],
        lambda token: token.replace(".", ""),
        lambda token: token + ".x",
        lambda token: "",
        lambda token: "%%%.%%%",
        lambda token: "é.é",
        lambda token: "x" * 5000,
    ],
)
def test_a_tampered_or_malformed_cursor_is_422(mangle: object) -> None:
    token = encode_cursor(TOKENS, "alice", QUERY, "title", TASK_ID)
    with pytest.raises(InvalidParameterError) as raised:
        decode_cursor(TOKENS, "alice", QUERY, mangle(token))  # type: ignore[operator]
    assert raised.value.errors == [
        {"loc": ["query", "cursor"], "msg": raised.value.errors[0]["msg"], "type": "cursor_invalid"}
    ]


def test_a_cursor_of_another_user_query_or_secret_is_422() -> None:
    token = encode_cursor(TOKENS, "alice", QUERY, "title", TASK_ID)
    other_query = query_fingerprint({"sort": "title", "completed": None})
    for owner, query, tokens in (
        ("bob", QUERY, TOKENS),
        ("alice", other_query, TOKENS),
        ("alice", QUERY, OpaqueTokens("another secret")),
    ):
        with pytest.raises(InvalidParameterError):
            decode_cursor(tokens, owner, query, token)


def test_a_sync_token_is_not_a_cursor_and_the_reverse() -> None:
    now = utc_now()
    sync = encode_sync_token(TOKENS, "alice", SyncPosition(5, now))
    with pytest.raises(InvalidParameterError):
        decode_cursor(TOKENS, "alice", "", sync)
    cursor = encode_cursor(TOKENS, "alice", "", 5, TASK_ID)
    with pytest.raises(InvalidParameterError):
        decode_sync_token(TOKENS, "alice", cursor, now=now, keep_days=30)


def test_a_sync_token_round_trips_and_expires_after_the_tombstone_days() -> None:
    now = utc_now()
    issued = now - timedelta(days=29, hours=23)
    token = encode_sync_token(TOKENS, "alice", SyncPosition(42, issued))
    position = decode_sync_token(TOKENS, "alice", token, now=now, keep_days=30)
    assert position.seq == 42
    assert abs(position.since_time - issued) < timedelta(seconds=1)
    with pytest.raises(GoneError):
        decode_sync_token(TOKENS, "alice", token, now=now + timedelta(hours=2), keep_days=30)
    with pytest.raises(InvalidParameterError):
        decode_sync_token(TOKENS, "bob", token, now=now, keep_days=30)


def test_without_a_shared_secret_each_process_has_its_own_key() -> None:
    first, second = OpaqueTokens(None), OpaqueTokens(None)
    token = first.seal("p", "alice", [1])
    assert first.open("p", "alice", token) == [1]
    with pytest.raises(InvalidOpaqueTokenError):
        second.open("p", "alice", token)


def test_every_one_character_edit_of_a_cursor_is_refused() -> None:
    token = encode_cursor(TOKENS, "alice", QUERY, "a title", TASK_ID)
    for position, original in enumerate(token):
        for replacement in "ABgw_-.":
            if replacement == original:
                continue
            edited = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidParameterError):
                decode_cursor(TOKENS, "alice", QUERY, edited)
