"""The service deletes expired idempotency responses and old tombstones by itself."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from tests.conftest import ApiUser
from tests.servers import serving
from todo_api import pruning
from todo_api.database import Database, create_engine, utc_now
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.settings import Settings
from todo_api.tasks.models import task_tombstones_table as tombstones


async def stored_keys(settings: Settings, owner: str) -> int:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).where(idempotency_keys.c.user_id == owner)
            )
            return int(count or 0)
    finally:
        await engine.dispose()


async def test_the_running_service_prunes_expired_responses(
    settings_factory: Callable[..., Settings], alice: ApiUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pruning, "PRUNE_INTERVAL_SECONDS", 0.05)
    settings = settings_factory(idempotency_key_ttl_seconds=1)
    async with serving(settings) as client:
        for key in ("a", "b"):
            headers = {**alice.headers, "Idempotency-Key": key}
            response = await client.post("/tasks", json={"title": key}, headers=headers)
            assert response.status_code == 201
        assert await stored_keys(settings, alice.sub) == 2
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await stored_keys(settings, alice.sub) == 0:
                break
        assert await stored_keys(settings, alice.sub) == 0


async def test_pruning_deletes_in_batches_and_keeps_what_is_still_needed(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(sync_tombstone_days=30)
    owner = f"pruned-{uuid.uuid4().hex}"
    now = utc_now()
    expired = [
        {
            "user_id": owner,
            "key": f"old-{number}",
            "request_hash": "0" * 64,
            "status": 201,
            "body": "{}",
            "headers": "{}",
            "created_at": now - timedelta(days=2),
            "expires_at": now - timedelta(seconds=1 + number),
        }
        for number in range(pruning.PRUNE_BATCH_ROWS * 2 + 7)
    ]
    alive = {**expired[0], "key": "alive", "expires_at": now + timedelta(hours=1)}
    # Kept 30 days plus a day's grace for clock skew; one second short of that, it stays.
    kept_until = now - timedelta(days=31)
    old_tombstone = {"user_id": owner, "seq": 1, "task_id": uuid.uuid4()}
    old_list_tombstone = {"user_id": owner, "seq": 3, "list_id": uuid.uuid4()}
    database = Database(settings)
    engine = database.engine
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(idempotency_keys), [*expired, alive])
            await connection.execute(
                insert(tombstones),
                [
                    {**old_tombstone, "deleted_at": kept_until - timedelta(seconds=1)},
                    {
                        **old_tombstone,
                        "seq": 2,
                        "deleted_at": kept_until + timedelta(seconds=60),
                    },
                ],
            )
            await connection.execute(
                insert(list_tombstones),
                [
                    {**old_list_tombstone, "deleted_at": kept_until - timedelta(seconds=1)},
                    {
                        **old_list_tombstone,
                        "seq": 4,
                        "deleted_at": kept_until + timedelta(seconds=60),
                    },
                ],
            )
        deleted = await pruning.prune_once(database, now)
        async with engine.connect() as connection:
            keys = (
                await connection.scalars(
                    select(idempotency_keys.c.key).where(idempotency_keys.c.user_id == owner)
                )
            ).all()
            seqs = (
                await connection.scalars(
                    select(tombstones.c.seq).where(tombstones.c.user_id == owner)
                )
            ).all()
            list_seqs = (
                await connection.scalars(
                    select(list_tombstones.c.seq).where(list_tombstones.c.user_id == owner)
                )
            ).all()
    finally:
        await engine.dispose()
    assert deleted["idempotency_keys"] >= len(expired)
    assert keys == ["alive"]
    assert seqs == [2]
    assert list_seqs == [4]
