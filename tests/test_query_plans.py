"""The owner-scoped list stays an index walk as the table grows, the tag filter uses the GIN
index on tags, the list filter walks the list index, and /tasks/changes reads the version
index (PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import POSTGRES_ENV, make_settings
from todo_api import migrations
from todo_api.database import create_engine
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.settings import Settings
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.models import TAGS_GIN_INDEX
from todo_api.tasks.schemas import TaskSort
from todo_api.tasks.service import TaskService

USERS = 1_000
TASKS_PER_USER = 100  # 100,000 rows

# Each user's tasks in one list, whose id is made up from the user's name.
SEED = f"""
INSERT INTO task_lists (id, user_id, name, name_key, is_default, created_at, updated_at)
SELECT md5('list user-' || n)::uuid, 'user-' || n, 'Tasks', 'tasks', true, now(), now()
FROM generate_series(0, {USERS - 1}) AS n;
INSERT INTO tasks (id, user_id, list_id, title, description, completed, created_at, updated_at)
SELECT gen_random_uuid(), 'user-' || mod(n, {USERS}), md5('list user-' || mod(n, {USERS}))::uuid,
       'task ' || n, NULL, mod(n, 3) = 0,
       now() - n * interval '1 second', now() - n * interval '1 second'
FROM generate_series(1, {USERS * TASKS_PER_USER}) AS n
"""


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


@pytest.fixture(scope="module")
def seeded_settings(request: pytest.FixtureRequest) -> Settings:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}")
    url: str = request.getfixturevalue("fresh_postgres_database")()
    migrations.upgrade(make_url(url))
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as connection:
        connection.execute(SEED)
        connection.execute("ANALYZE tasks")
    return make_settings(url)


TOKENS = OpaqueTokens("plan test secret")


def capture_statements(engine: AsyncEngine) -> list[tuple[str, Any]]:
    """Every statement the engine's connections send, with its parameters, as SQLAlchemy
    hands them to the driver: the very SQL the repository runs."""
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    return captured


@pytest.mark.parametrize("by_cursor", [False, True], ids=["first page", "cursor page"])
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-created_at", "ix_tasks_user_id_created_at_id"),
        ("created_at", "ix_tasks_user_id_created_at_id"),
        ("-updated_at", "ix_tasks_user_id_updated_at_id"),
    ],
)
async def test_list_query_walks_the_owner_index_without_sorting(
    seeded_settings: Settings, sort: TaskSort, index: str, by_cursor: bool
) -> None:
    engine = create_engine(seeded_settings)
    captured = capture_statements(engine)

    try:
        async with engine.connect() as connection:
            # The very statement the route runs, captured on its way to the driver.
            tasks = TaskService.on(connection, "user-7", tokens=TOKENS)
            page = await tasks.page(limit=50, offset=0, filters=TaskFilters(), sort=sort)
            if by_cursor:
                page = await tasks.page(
                    limit=50,
                    offset=0,
                    filters=TaskFilters(),
                    sort=sort,
                    cursor=page["next_cursor"],
                )
            assert page["total"] == TASKS_PER_USER
            assert len(page["items"]) == 50
            statement, parameters = captured[-1]
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            raw = result.scalar_one()
    finally:
        await engine.dispose()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    kinds = {node["Node Type"] for node in nodes(plan)}
    index_scans = ("Index Scan", "Index Only Scan", "Index Scan Backward")
    if by_cursor:
        # The keyset condition is part of the index condition. With a hundred tasks per
        # user the planner may fetch the few rows after the cursor by bitmap and sort them,
        # which is as cheap; what must never happen is a scan of the table.
        index_scans += ("Bitmap Index Scan",)
    scans = [node for node in nodes(plan) if node["Node Type"] in index_scans]
    assert any(node.get("Index Name") == index for node in scans), json.dumps(plan, indent=1)
    if not by_cursor:
        assert "Sort" not in kinds, json.dumps(plan, indent=1)
    assert "Seq Scan" not in kinds, json.dumps(plan, indent=1)


# One user with all 100,000 tasks, in 100 lists: the owner index alone would leave every row
# to check, so only the tag index can find the 100 that carry the rare tag, and only the list
# index the 1,000 of one list.
HEAVY_LISTS = 100
TAGGED_SEED = f"""
INSERT INTO task_lists (id, user_id, name, name_key, is_default, created_at, updated_at)
SELECT md5('list heavy ' || n)::uuid, 'heavy', 'list ' || n, 'list ' || n, n = 0, now(), now()
FROM generate_series(0, {HEAVY_LISTS - 1}) AS n;
INSERT INTO tasks (id, user_id, list_id, title, completed, created_at, updated_at, tags)
SELECT gen_random_uuid(), 'heavy', md5('list heavy ' || mod(n, {HEAVY_LISTS}))::uuid,
       'task ' || n, false, now() - n * interval '1 second', now() - n * interval '1 second',
       CASE WHEN mod(n, 1000) = 0 THEN ARRAY['common', 'rare']
            ELSE ARRAY['common', 'tag' || mod(n, 40)] END
FROM generate_series(1, {USERS * TASKS_PER_USER}) AS n
"""


@pytest.fixture(scope="module")
def tagged_settings(request: pytest.FixtureRequest) -> Settings:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_ENV}")
    url: str = request.getfixturevalue("fresh_postgres_database")()
    migrations.upgrade(make_url(url))
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as connection:
        connection.execute(TAGGED_SEED)
        connection.execute("ANALYZE tasks")
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


async def test_the_tag_filter_uses_the_gin_index(tagged_settings: Settings) -> None:
    engine = create_engine(tagged_settings)
    captured = capture_statements(engine)

    try:
        async with engine.connect() as connection:
            page = await TaskService.on(connection, "heavy", tokens=TOKENS).page(
                limit=50,
                offset=0,
                filters=TaskFilters(tags=("rare",)),
                sort="-created_at",
            )
            assert page["total"] == USERS * TASKS_PER_USER // 1000
            statement, parameters = captured[-1]
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            raw = result.scalar_one()
    finally:
        await engine.dispose()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    used = {node.get("Index Name") for node in nodes(plan)}
    assert TAGS_GIN_INDEX in used, json.dumps(plan, indent=1)
    assert "Seq Scan" not in {node["Node Type"] for node in nodes(plan)}, json.dumps(plan)


@pytest.mark.parametrize("by_cursor", [False, True], ids=["first page", "cursor page"])
async def test_the_list_filter_walks_the_list_index(
    tagged_settings: Settings, by_cursor: bool
) -> None:
    engine = create_engine(tagged_settings)
    captured = capture_statements(engine)
    filters = TaskFilters(list_id=uuid.UUID(hashlib.md5(b"list heavy 7").hexdigest()))  # noqa: S324

    try:
        async with engine.connect() as connection:
            tasks = TaskService.on(connection, "heavy", tokens=TOKENS)
            page = await tasks.page(limit=50, offset=0, filters=filters, sort="-created_at")
            if by_cursor:
                page = await tasks.page(
                    limit=50,
                    offset=0,
                    filters=filters,
                    sort="-created_at",
                    cursor=page["next_cursor"],
                )
            assert page["total"] == USERS * TASKS_PER_USER // HEAVY_LISTS
            statement, parameters = captured[-1]
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            raw = result.scalar_one()
    finally:
        await engine.dispose()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    kinds = {node["Node Type"] for node in nodes(plan)}
    used = {node.get("Index Name") for node in nodes(plan)}
    assert "ix_tasks_list_id_created_at_id" in used, json.dumps(plan, indent=1)
    assert "Seq Scan" not in kinds, json.dumps(plan, indent=1)
    if not by_cursor:
        assert "Sort" not in kinds, json.dumps(plan, indent=1)


async def test_the_changes_query_reads_the_version_index(seeded_settings: Settings) -> None:
    engine = create_engine(seeded_settings)
    captured = capture_statements(engine)

    try:
        async with engine.connect() as connection:
            tasks = TaskService.on(connection, "user-7", tokens=TOKENS)
            first = await tasks.changes(None, 10)
            await tasks.changes(first["next_since"], 10)
            statement, parameters = captured[-1]
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            raw = result.scalar_one()
    finally:
        await engine.dispose()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    assert first["has_more"] is True
    tasks_scans = [node for node in nodes(plan) if node.get("Relation Name") == "tasks"]
    assert tasks_scans, json.dumps(plan, indent=1)
    assert all(node.get("Index Name") == "ix_tasks_user_id_version_id" for node in tasks_scans), (
        json.dumps(plan, indent=1)
    )
