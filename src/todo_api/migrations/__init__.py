"""Apply and inspect Alembic migrations programmatically (`todo-api migrate`)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL


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
