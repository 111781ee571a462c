"""Every list statement; where the dialects differ, the PostgreSQL and SQLite forms side by side.

A list write takes its number from the owner's change counter as a task write does
(tasks/statements.py, `versioned`), so lists and tasks share one sequence and one sync order.
The default list made on first need is the exception: it is made with version 0, like the
default lists of migration 0005, and takes no number (so no lock on the counter): it is
made before any read that could show it (`GET /lists`, `/tasks/changes`), and nothing but
the owner's erasure, which restarts the sequence, ever removes it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from todo_api.database import UTCDateTime
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.tasks.statements import VersionedWrite, versioned

_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(task_lists.c.version, String) + _QUOTE).label("etag")
# The columns of a list response, in every statement that returns lists.
LIST_COLUMNS = (
    task_lists.c.id,
    task_lists.c.name,
    task_lists.c.is_default,
    task_lists.c.created_at,
    task_lists.c.updated_at,
    _ETAG,
)
LIST_FIELDS = tuple(column.key for column in LIST_COLUMNS)

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNER: BindParameter[str] = bindparam("owner")
_LIST_ID = bindparam("list_id", type_=task_lists.c.id.type)
OWNED_LIST: ColumnElement[bool] = and_(task_lists.c.id == _LIST_ID, task_lists.c.user_id == _OWNER)
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    OWNED_LIST, task_lists.c.version.in_(bindparam("versions", expanding=True))
)


@cache
def all_lists(dialect: str) -> Executable:
    """The owner's lists, the default first, then by name in code point order: SQLite
    compares text byte by byte (UTF-8, so by code point), PostgreSQL does under "C"."""
    name = task_lists.c.name.collate("C") if dialect == "postgresql" else task_lists.c.name
    return (
        select(*LIST_COLUMNS)
        .where(task_lists.c.user_id == _OWNER)
        .order_by(task_lists.c.is_default.desc(), name, task_lists.c.id)
    )


GET_LIST = select(*LIST_COLUMNS).where(OWNED_LIST)
# After a miss: whose the list is, whether it is a default list, and its version.
FIND_LIST = select(
    task_lists.c.user_id.label("owner"), task_lists.c.is_default, task_lists.c.version
).where(task_lists.c.id == _LIST_ID)
_COUNT = select(func.count()).select_from(task_lists).where(task_lists.c.user_id == _OWNER)

# The columns of a new list, from bound parameters; `version` as given.
_NEW_LIST: dict[str, Any] = {
    "id": _LIST_ID,
    "user_id": _OWNER,
    "name": bindparam("name", type_=task_lists.c.name.type),
    "name_key": bindparam("name_key", type_=task_lists.c.name_key.type),
    "is_default": bindparam("is_default", type_=task_lists.c.is_default.type),
    "created_at": _NOW,
    "updated_at": _NOW,
}

# The default list, unless the owner has it: its id is a function of the owner, so the
# primary key makes a concurrent second insert do nothing. Version 0 (the module docstring).
INSERT_DEFAULT_LIST = {
    name: dialect.insert(task_lists)
    .values({**_NEW_LIST, "version": 0})
    .on_conflict_do_nothing()
    .returning(*LIST_COLUMNS)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}

# A new list unless the owner has :most already, numbered :version by a transaction that
# holds the owner's counter: no other write of the owner comes between count and insert.
INSERT_LIST_UNLESS_FULL = (
    task_lists.insert()
    .from_select(
        [*_NEW_LIST, "version"],
        select(*_NEW_LIST.values(), bindparam("version", type_=task_lists.c.version.type)).where(
            _COUNT.scalar_subquery() < bindparam("most")
        ),
    )
    .returning(*LIST_COLUMNS)
)


@cache
def rename_list(conditional: bool) -> VersionedWrite:
    where = _OWNED_AT_VERSION if conditional else OWNED_LIST
    rename = (
        task_lists.update()
        .where(where)
        .values(name=bindparam("name"), name_key=bindparam("name_key"), updated_at=_NOW)
        .returning(*LIST_COLUMNS)
    )
    return versioned(rename)


# A list's deletion, after its tasks (tasks/statements.py): the list's row as it is in the
# deletion's transaction, its tombstone, the row's removal.
LOCKED_LIST = select(task_lists.c.is_default, task_lists.c.version).where(OWNED_LIST)
LIST_TOMBSTONE = list_tombstones.insert().values(
    user_id=_OWNER, seq=bindparam("seq"), list_id=_LIST_ID, deleted_at=_NOW
)
DELETE_LIST = task_lists.delete().where(OWNED_LIST)
