"""Apply and inspect Alembic migrations programmatically (`todo-api migrate`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Connection
from sqlmodel import SQLModel

from todo_api.database import ONLY_ON_DIALECT


def alembic_config(url: URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("todo_api") / "migrations"))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade(url: URL | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: URL | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def _built_on(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Leave out of the comparison what the models build only on another database (the
    GIN index on tags exists on PostgreSQL alone); Alembic does not read `ddl_if` itself,
    so the models record the database in the index's `info` (`built_only_on`)."""

    def include(
        schema_object: Any, _name: str | None, kind: str, reflected: bool, _to: Any
    ) -> bool:
        if kind != "index" or reflected:
            return True
        only_on = schema_object.info.get(ONLY_ON_DIALECT)
        return only_on is None or bool(only_on == dialect_name)

    return include


def compare_options(dialect_name: str) -> dict[str, Any]:
    # Alembic compares a TypeDecorator (UTCDateTime) by its impl, timezone flag included,
    # and the models give every string an explicit length, so the strict comparison holds.
    return {
        "compare_type": True,
        "compare_server_default": True,
        "include_object": _built_on(dialect_name),
    }


def schema_differences(connection: Connection, metadata: MetaData | None = None) -> list[Any]:
    """What autogenerate would change to make the database match the models: [] when in step."""
    # Imported for their side effect: they register the tables on the metadata.
    import todo_api.app_passwords.models
    import todo_api.auth.models
    import todo_api.idempotency.models
    import todo_api.lists.models
    import todo_api.tasks.models  # noqa: F401

    context = MigrationContext.configure(connection, opts=compare_options(connection.dialect.name))
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (users' lower(email)), so they are not
        # compared there; PostgreSQL's check still covers them.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        differences: list[Any] = compare_metadata(context, metadata or SQLModel.metadata)
    return [
        difference
        for difference in differences
        # Alembic's own bookkeeping table is not part of the models.
        if not (difference[0] == "remove_table" and difference[1].name == "alembic_version")
    ]


def differences(url: URL | None = None) -> list[Any]:
    """`schema_differences` against the migration database (DATABASE_MIGRATION_URL)."""
    import asyncio

    from todo_api.database import create_engine
    from todo_api.settings import load_settings

    settings = load_settings()

    async def compare() -> list[Any]:
        engine = create_engine(settings, url or settings.migration_url, for_migrations=True)
        try:
            async with engine.connect() as connection:
                found: list[Any] = await connection.run_sync(schema_differences)
                return found
        finally:
            await engine.dispose()

    return asyncio.run(compare())
