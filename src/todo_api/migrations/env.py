"""Alembic environment: runs migrations through the same async engine code as the app."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

# Imported for their side effect: they register the tables on the metadata.
import todo_api.app_passwords.models
import todo_api.auth.models
import todo_api.events.models
import todo_api.idempotency.models
import todo_api.lists.models
import todo_api.tasks.models  # noqa: F401
from todo_api.database import Database
from todo_api.migrations import compare_options
from todo_api.settings import load_settings

config = context.config
target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        **compare_options(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    settings = load_settings()
    url = config.attributes.get("url") or settings.migration_url
    database = Database(settings, url, for_migrations=True)
    try:
        # `serve` migrates before the app starts: a cold database is waited out here too.
        await database.wait_until_answering()
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `todo-api migrate`")
asyncio.run(_run_online())
