"""Every app-password statement; where the dialects differ, both forms side by side."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.sql.functions import coalesce

from todo_api.app_passwords.models import app_passwords_table as app_passwords
from todo_api.auth.models import users_table as users
from todo_api.database import UTCDateTime

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNER: BindParameter[str] = bindparam("owner", type_=app_passwords.c.user_id.type)
_ID = bindparam("password_id", type_=app_passwords.c.id.type)

READ_COLUMNS = (
    app_passwords.c.id,
    app_passwords.c.name,
    app_passwords.c.created_at,
    app_passwords.c.last_used_at,
)
CREATED_COLUMNS = (
    app_passwords.c.id,
    app_passwords.c.name,
    app_passwords.c.username,
    app_passwords.c.created_at,
)

ALL_PASSWORDS = (
    select(*READ_COLUMNS)
    .where(app_passwords.c.user_id == _OWNER)
    .order_by(app_passwords.c.created_at, app_passwords.c.id)
)

# The built-in account's email when the owner has one (:account_id, the subject as an
# account id, or null when it cannot be one), else the subject: the user name and its key,
# read in the insert itself.
_EMAIL = select(users.c.email).where(users.c.id == bindparam("account_id", type_=users.c.id.type))
_EMAIL_KEY = select(func.lower(users.c.email)).where(users.c.id == bindparam("account_id"))
_COUNT = select(func.count()).select_from(app_passwords).where(app_passwords.c.user_id == _OWNER)
_NEW_PASSWORD: dict[str, Any] = {
    "id": _ID,
    "user_id": _OWNER,
    "name": bindparam("name", type_=app_passwords.c.name.type),
    "username": coalesce(_EMAIL.scalar_subquery(), _OWNER),
    "username_key": coalesce(_EMAIL_KEY.scalar_subquery(), _OWNER),
    "secret_hash": bindparam("secret_hash", type_=app_passwords.c.secret_hash.type),
    "created_at": _NOW,
}
# A new password unless the owner has :most already. One statement, so atomic on SQLite,
# whose writes take the database's write lock before they read; on PostgreSQL two of them
# could both count :most - 1, so there it runs after LOCK_OWNER, in one transaction.
INSERT_UNLESS_FULL = (
    app_passwords.insert()
    .from_select(
        list(_NEW_PASSWORD),
        select(*_NEW_PASSWORD.values()).where(_COUNT.scalar_subquery() < bindparam("most")),
    )
    .returning(*CREATED_COLUMNS)
)

# Any number, so long as no other feature takes transaction-level advisory locks with it.
_ADVISORY_LOCK_CLASS = 0x61707077  # "appw"
# Held until the transaction ends: a second insert of the same owner waits, then counts
# the first one's row. A transaction-level lock works through a transaction pooler too.
LOCK_OWNER: dict[str, Executable | None] = {
    "postgresql": select(func.pg_advisory_xact_lock(_ADVISORY_LOCK_CLASS, func.hashtext(_OWNER))),
    "sqlite": None,
}

# Revocation: the owner's row gone, its id returned; nothing for any other owner's id.
DELETE_PASSWORD = (
    app_passwords.delete()
    .where(and_(app_passwords.c.id == _ID, app_passwords.c.user_id == _OWNER))
    .returning(app_passwords.c.id)
)

# A sign-in, checked and recorded in one statement: the row whose digest is the given
# password's (credentials.py says why this look-up is safe) under one of the user name's
# keys; its owner returned, or nothing. Its `last_used_at` moves only when older than
# :stale_before, so that most sign-ins write nothing: on PostgreSQL, where the update is a
# CTE beside the read, a sign-in that changes no row commits nothing to flush to disk. In
# process, on the same machine: 3.5 ms per Basic sign-in when each one wrote, 1.5 to 2.1 ms
# this way, as much as a bearer-authenticated read (1.7 to 2.2 ms). SQLite cannot write in
# a CTE; there the row is updated to itself meanwhile.
_SIGNING_IN: ColumnElement[bool] = and_(
    app_passwords.c.secret_hash == bindparam("digest"),
    app_passwords.c.username_key.in_(bindparam("username_keys", expanding=True)),
)
_STALE_BEFORE: BindParameter[Any] = bindparam("stale_before", type_=UTCDateTime())


def _sign_in_with_a_cte() -> Executable:
    found = (
        select(app_passwords.c.id, app_passwords.c.user_id, app_passwords.c.last_used_at)
        .where(_SIGNING_IN)
        .cte("found")
    )
    touched = (
        app_passwords.update()
        .where(
            app_passwords.c.id == found.c.id,
            or_(found.c.last_used_at.is_(None), found.c.last_used_at < _STALE_BEFORE),
        )
        .values(last_used_at=_NOW)
        .cte("touched")
    )
    return select(found.c.user_id).add_cte(touched)


_STALE = or_(app_passwords.c.last_used_at.is_(None), app_passwords.c.last_used_at < _STALE_BEFORE)
SIGN_IN: dict[str, Executable] = {
    "postgresql": _sign_in_with_a_cte(),
    "sqlite": app_passwords.update()
    .where(_SIGNING_IN)
    .values(last_used_at=case((_STALE, _NOW), else_=app_passwords.c.last_used_at))
    .returning(app_passwords.c.user_id),
}
