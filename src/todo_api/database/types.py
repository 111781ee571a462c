"""Column types and naming shared by every table: aware UTC timestamps, constraint names,
indexes built on one database only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Index
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Stable constraint and index names, so migrations generated on either database agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


# Where an index built on one database only records that database (`Index.info`): Alembic's
# drift check reads it there, since SQLAlchemy offers no public way to read `ddl_if` back.
ONLY_ON_DIALECT = "todo_api_only_on_dialect"


def built_only_on(dialect_name: str, index: Index) -> Index:
    """`index`, created only on `dialect_name` (the GIN index on tags: PostgreSQL)."""
    index.info[ONLY_ON_DIALECT] = dialect_name
    return index.ddl_if(dialect=dialect_name)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both PostgreSQL and SQLite.

    SQLite has no time zone type and hands back naive values; they are stored as UTC and
    re-labelled on the way out, so callers only ever see aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
