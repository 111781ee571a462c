"""Built-in accounts: registration and password sign-in.

Argon2 takes far longer than a query and may queue behind other sign-ins, so it always runs
between statements, never while a connection is held: each statement takes one briefly.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from todo_api.auth.models import users_table as users
from todo_api.auth.passwords import PasswordService
from todo_api.auth.schemas import PASSWORD_MAX_LENGTH, UserCreate, UserRead, normalize_email
from todo_api.auth.tokens import Principal
from todo_api.database import Database, utc_now
from todo_api.errors import ConflictError, UnauthorizedError


class InvalidCredentialsError(UnauthorizedError):
    # One message for an unknown email and a wrong password, so neither is revealed.
    detail = "The email or password is wrong."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


async def register_user(
    database: Database, passwords: PasswordService, data: UserCreate
) -> UserRead:
    password_hash = await passwords.hash(data.password)
    statement = (
        users.insert()
        .values(
            id=uuid.uuid4(),
            email=data.email,
            password_hash=password_hash,
            created_at=utc_now(),
        )
        .returning(users.c.id, users.c.email, users.c.created_at)
    )
    # The unique index decides, not a prior SELECT: two concurrent registrations of one
    # address cannot both pass a check and both insert.
    async with database.connect() as connection:
        try:
            row = (await connection.execute(statement)).one()
        except IntegrityError:
            raise ConflictError("An account with this email already exists.") from None
    return UserRead.model_validate(row, from_attributes=True)


async def authenticate(
    database: Database, passwords: PasswordService, username: str, password: str
) -> Principal:
    """The account for these credentials, or InvalidCredentialsError, in the same time."""
    try:
        email = normalize_email(username)
    except ValueError:
        email = None
    row = None
    if email is not None:
        statement = select(users.c.id, users.c.email, users.c.password_hash).where(
            # lower() on both sides, so both match the index and fold case identically.
            func.lower(users.c.email) == func.lower(email)
        )
        async with database.connect() as connection:
            row = (await connection.execute(statement)).first()
    stored_hash = row.password_hash if row is not None else None
    if len(password) > PASSWORD_MAX_LENGTH:
        # No account has such a password; the dummy check still keeps the timing even.
        stored_hash = None
    valid, upgraded_hash = await passwords.verify(password, stored_hash)
    if row is None or not valid:
        raise InvalidCredentialsError
    if upgraded_hash is not None:
        # The hash was made with older parameters: store one made with the current ones,
        # unless the stored hash changed meanwhile.
        async with database.connect() as connection:
            await connection.execute(
                users.update()
                .where(users.c.id == row.id, users.c.password_hash == row.password_hash)
                .values(password_hash=upgraded_hash)
            )
    return Principal(subject=str(row.id), email=row.email)
