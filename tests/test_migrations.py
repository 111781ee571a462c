"""Migrations: up, down and up again on each database, and never out of step with the models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text, Uuid, inspect
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel

from tests.conftest import backends, bearer, make_settings, make_token
from tests.servers import open_client
from todo_api import migrations
from todo_api.app import create_app
from todo_api.database import ONLY_ON_DIALECT, UTCDateTime, built_only_on, create_engine
from todo_api.settings import Settings


def settings_for(url: str) -> Settings:
    return make_settings(url)


def on(url: str, work: Callable[[Connection], Any]) -> Any:
    return asyncio.run(_on(url, work))


async def _on(url: str, work: Callable[[Connection], Any]) -> Any:
    engine = create_engine(settings_for(url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.fixture(params=backends())
def empty_url(request: pytest.FixtureRequest, empty_database_url: Callable[[str], str]) -> str:
    return empty_database_url(request.param)


def test_upgrade_downgrade_upgrade_round_trip(empty_url: str) -> None:
    url = make_url(empty_url)
    migrations.upgrade(url)
    assert "tasks" in on(empty_url, table_names)
    migrations.downgrade(url)
    assert "tasks" not in on(empty_url, table_names)
    migrations.upgrade(url)
    assert "tasks" in on(empty_url, table_names)
    assert on(empty_url, migrations.schema_differences) == []


def test_models_and_migrations_agree(empty_url: str) -> None:
    migrations.upgrade(make_url(empty_url))
    assert on(empty_url, migrations.schema_differences) == []


def test_the_drift_check_sees_a_column_the_migrations_lack(empty_url: str) -> None:
    migrations.upgrade(make_url(empty_url))
    drifted = MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for table in SQLModel.metadata.tables.values():
        copied = table.to_metadata(drifted)
        # to_metadata drops an index's ddl_if and info (the PostgreSQL-only GIN index).
        only_on = {index.name: index.info.get(ONLY_ON_DIALECT) for index in table.indexes}
        for index in copied.indexes:
            if dialect_name := only_on[index.name]:
                built_only_on(dialect_name, index)
    drifted.tables["tasks"].append_column(Column("reminder_minutes", Integer, nullable=True))
    differences = on(empty_url, lambda c: migrations.schema_differences(c, drifted))
    assert [d[0] for d in differences] == ["add_column"]


def test_the_drift_check_sees_a_timestamp_that_lost_its_time_zone(
    migrated_postgres_url: str,
) -> None:
    def drop_time_zone(connection: Connection) -> None:
        connection.exec_driver_sql(
            "ALTER TABLE tasks ALTER COLUMN created_at TYPE timestamp without time zone"
        )
        connection.commit()

    on(migrated_postgres_url, drop_time_zone)
    differences = on(migrated_postgres_url, migrations.schema_differences)
    assert [(d[0][0], d[0][3]) for d in differences] == [("modify_type", "created_at")]


# The tasks table as version 1 (revision 0002) left it.
VERSION_1_TASKS = Table(
    "tasks",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("user_id", String(255)),
    Column("title", String(255)),
    Column("description", Text),
    Column("completed", Boolean),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
)


async def test_upgrading_a_database_with_version_1_tasks_gives_them_the_defaults(
    empty_url: str,
) -> None:
    url = make_url(empty_url)
    await asyncio.to_thread(migrations.upgrade, url, "0002")
    owner = f"user-{uuid.uuid4().hex}"
    created = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": owner,
            "title": f"old task {n}",
            "description": None if n else "from version 1",
            "completed": n == 1,
            "created_at": created + timedelta(minutes=n),
            "updated_at": created + timedelta(minutes=n),
            "completed_at": created + timedelta(minutes=n) if n == 1 else None,
        }
        for n in range(3)
    ]

    def insert(connection: Connection) -> None:
        connection.execute(VERSION_1_TASKS.insert(), rows)
        connection.commit()

    await _on(empty_url, insert)
    await asyncio.to_thread(migrations.upgrade, url)
    assert await _on(empty_url, migrations.schema_differences) == []

    headers = bearer(make_token(owner))
    async with open_client(create_app(make_settings(empty_url))) as client:
        page = (await client.get("/tasks", params={"sort": "created_at"}, headers=headers)).json()
        assert [task["id"] for task in page["items"]] == [str(row["id"]) for row in rows]
        for task, row in zip(page["items"], rows, strict=True):
            assert task["title"] == row["title"]
            assert task["description"] == row["description"]
            assert task["completed"] is row["completed"]
            assert (task["priority"], task["due_at"], task["tags"]) == ("none", None, [])
            assert task["etag"] == '"0"'
            fetched = await client.get(f"/tasks/{task['id']}", headers=headers)
            assert fetched.json() == task
            assert fetched.headers["etag"] == '"0"'
        # The first write after the upgrade takes the owner's first change number.
        first = page["items"][0]
        patched = await client.patch(
            f"/tasks/{first['id']}",
            json={"tags": ["migrated"], "priority": "low"},
            headers={**headers, "If-Match": '"0"'},
        )
        assert patched.status_code == 200, patched.text
        assert patched.headers["etag"] == '"1"'
        tags = (await client.get("/tags", headers=headers)).json()
        assert tags == {"items": [{"name": "migrated", "count": 1}]}
        filtered = await client.get("/tasks", params={"tag": "migrated"}, headers=headers)
        assert [task["id"] for task in filtered.json()["items"]] == [first["id"]]


# The tasks table and change counters as version 2 (revision 0004) left them.
VERSION_2_TASKS = Table(
    "tasks",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("user_id", String(255)),
    Column("title", String(255)),
    Column("description", Text),
    Column("completed", Boolean),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("priority", Integer),
    Column("version", Integer),
)
VERSION_2_COUNTERS = Table(
    "change_counters", MetaData(), Column("user_id", String(255)), Column("last_seq", Integer)
)


async def test_upgrading_a_database_with_version_2_tasks_puts_them_in_default_lists(
    empty_url: str,
) -> None:
    url = make_url(empty_url)
    await asyncio.to_thread(migrations.upgrade, url, "0004")
    run = uuid.uuid4().hex[:8]
    # More tasks than one batch of the backfill (BATCH_ROWS, 1000) for one owner.
    owners = {f"ann-{run}": 3, f"ben-{run}": 1, f"many-{run}": 2100}
    created = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": owner,
            "title": f"{owner} task {n}",
            "description": None,
            "completed": False,
            "created_at": created + timedelta(seconds=n),
            "updated_at": created + timedelta(seconds=n),
            "completed_at": None,
            "priority": 2,
            "version": n + 1,
        }
        for owner, count in owners.items()
        for n in range(count)
    ]

    def insert(connection: Connection) -> None:
        connection.execute(VERSION_2_TASKS.insert(), rows)
        connection.execute(
            VERSION_2_COUNTERS.insert(),
            [{"user_id": owner, "last_seq": count} for owner, count in owners.items()],
        )
        connection.commit()

    await _on(empty_url, insert)
    await asyncio.to_thread(migrations.upgrade, url)
    assert await _on(empty_url, migrations.schema_differences) == []

    async with open_client(create_app(make_settings(empty_url))) as client:
        default_ids = set()
        for owner, count in owners.items():
            headers = bearer(make_token(owner))
            lists = (await client.get("/lists", headers=headers)).json()["items"]
            assert [(item["name"], item["is_default"]) for item in lists] == [("Tasks", True)]
            default_id = lists[0]["id"]
            default_ids.add(default_id)
            in_list = await client.get(
                "/tasks", params={"list_id": default_id, "limit": 1}, headers=headers
            )
            assert in_list.json()["total"] == count
            everything = await client.get("/tasks", params={"limit": 200}, headers=headers)
            assert {task["list_id"] for task in everything.json()["items"]} == {default_id}
            # Migrated tasks keep their ETags: a version 2 client's If-Match still holds.
            oldest = (
                await client.get(
                    "/tasks", params={"sort": "created_at", "limit": 1}, headers=headers
                )
            ).json()["items"][0]
            assert oldest["etag"] == '"1"'
            patched = await client.patch(
                f"/tasks/{oldest['id']}",
                json={"title": "still mine"},
                headers={**headers, "If-Match": '"1"'},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["list_id"] == default_id
            # New tasks go to the same default list; no second one is made.
            made = await client.post("/tasks", json={"title": "new"}, headers=headers)
            assert made.json()["list_id"] == default_id
            assert len((await client.get("/lists", headers=headers)).json()["items"]) == 1
        assert len(default_ids) == len(owners)


def test_email_addresses_are_at_most_254_characters_after_the_upgrade(empty_url: str) -> None:
    migrations.upgrade(make_url(empty_url))

    def email_length(connection: Connection) -> int | None:
        columns = inspect(connection).get_columns("users")
        email = next(column for column in columns if column["name"] == "email")
        length: int | None = email["type"].length
        return length

    assert on(empty_url, email_length) == 254


def test_the_list_key_ends_validated_and_not_null_without_a_leftover_check(
    migrated_postgres_url: str,
) -> None:
    def constraints(connection: Connection) -> list[tuple[str, str, bool]]:
        rows = connection.exec_driver_sql(
            "SELECT conname, contype, convalidated FROM pg_constraint "
            "WHERE conrelid = 'tasks'::regclass AND contype IN ('c', 'f')"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def list_id_nullable(connection: Connection) -> bool:
        columns = inspect(connection).get_columns("tasks")
        return bool(next(column for column in columns if column["name"] == "list_id")["nullable"])

    # The recurrence check (0006) is the only other one, validated as well.
    assert sorted(on(migrated_postgres_url, constraints)) == [
        ("ck_tasks_recurrence", "c", True),
        ("fk_tasks_user_id_list_id_task_lists", "f", True),
    ]
    assert on(migrated_postgres_url, list_id_nullable) is False
