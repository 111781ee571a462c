"""A list in its manual order walks the (list_id, position, id) index, and a task's
subtasks the (parent_id, position, id) index, without a sort step (PostgreSQL, the seeded
table of test_query_plans.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from tests.test_query_plans import (
    HEAVY_LISTS,
    TASKS_PER_USER,
    TOKENS,
    USERS,
    capture_statements,
    nodes,
    tagged_settings,
)
from todo_api.database import create_engine
from todo_api.settings import Settings
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.service import TaskService

__all__ = ["tagged_settings"]

HEAVY_LIST = uuid.UUID(hashlib.md5(b"list heavy 7").hexdigest())  # noqa: S324


async def _plan(settings: Settings, filters: TaskFilters) -> tuple[int, dict[str, Any]]:
    engine = create_engine(settings)
    captured = capture_statements(engine)
    try:
        async with engine.connect() as connection:
            tasks = TaskService.on(connection, "heavy", tokens=TOKENS)
            page = await tasks.page(limit=50, offset=0, filters=filters, sort="position")
            statement, parameters = captured[-1]
            result = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", parameters
            )
            raw = result.scalar_one()
    finally:
        await engine.dispose()
    return page["total"], (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]


@pytest.mark.parametrize(
    ("filters", "index", "total"),
    [
        (
            TaskFilters(list_id=HEAVY_LIST, top_level=True),
            "ix_tasks_list_id_position_id",
            USERS * TASKS_PER_USER // HEAVY_LISTS,
        ),
        (TaskFilters(parent_id=HEAVY_LIST), "ix_tasks_parent_id_position_id", 0),
    ],
    ids=["a list's top level", "a task's subtasks"],
)
async def test_manual_order_walks_its_index(
    tagged_settings: Settings, filters: TaskFilters, index: str, total: int
) -> None:
    found, plan = await _plan(tagged_settings, filters)
    assert found == total
    kinds = {node["Node Type"] for node in nodes(plan)}
    used = {node.get("Index Name") for node in nodes(plan)}
    assert index in used, json.dumps(plan, indent=1)
    assert "Seq Scan" not in kinds, json.dumps(plan, indent=1)
    assert "Sort" not in kinds, json.dumps(plan, indent=1)
