"""Migrations: up, down and up again on each database, and never out of step with the models."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel

from tests.conftest import backends
from todo_api import migrations
from todo_api.database import create_engine
from todo_api.settings import Settings


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


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
        # to_metadata drops an index's ddl_if (the PostgreSQL-only GIN index): restore it.
        conditions = {index.name: index._ddl_if for index in table.indexes}
        for index in copied.indexes:
            index._ddl_if = conditions[index.name]
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
