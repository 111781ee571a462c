"""`AccountService`: built-in accounts (registration, password sign-in) and erasure.

Argon2 takes far longer than a query and may queue behind other sign-ins, so it always runs
between statements, never while a connection is held (see repository.py).
"""

from __future__ import annotations

import uuid

from todo_api.auth.passwords import PasswordService
from todo_api.auth.repository import UserRepository
from todo_api.auth.schemas import PASSWORD_MAX_LENGTH, UserCreate, UserRead, normalize_email
from todo_api.auth.tokens import Principal
from todo_api.database import utc_now
from todo_api.errors import ConflictError, UnauthorizedError
from todo_api.metrics import LOGIN_FAILURES


class InvalidCredentialsError(UnauthorizedError):
    # One message for an unknown email and a wrong password, so neither is revealed.
    detail = "The email or password is wrong."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class AccountService:
    __slots__ = ("passwords", "users")

    def __init__(self, users: UserRepository, passwords: PasswordService) -> None:
        self.users = users
        self.passwords = passwords

    async def register(self, data: UserCreate) -> UserRead:
        password_hash = await self.passwords.hash(data.password)
        row = await self.users.insert(data.email, password_hash, utc_now())
        if row is None:
            raise ConflictError("An account with this email already exists.")
        return UserRead.model_validate(row, from_attributes=True)

    async def authenticate(self, username: str, password: str) -> Principal:
        """The account for these credentials, or InvalidCredentialsError, in the same time."""
        try:
            email = normalize_email(username)
        except ValueError:
            email = None
        row = None if email is None else await self.users.by_email(email)
        stored_hash = row.password_hash if row is not None else None
        if len(password) > PASSWORD_MAX_LENGTH:
            # No account has such a password; the dummy check still keeps the timing even.
            stored_hash = None
        valid, upgraded_hash = await self.passwords.verify(password, stored_hash)
        if row is None or not valid:
            LOGIN_FAILURES.inc()
            raise InvalidCredentialsError
        if upgraded_hash is not None:
            # The hash was made with older parameters: store one made with the current ones,
            # unless the stored hash changed meanwhile.
            await self.users.replace_hash(row.id, row.password_hash, upgraded_hash)
        return Principal(subject=str(row.id), email=row.email)

    async def erase(self, subject: str) -> None:
        """Everything the service holds for `subject`, and its built-in account if it has
        one, deleted in one transaction."""
        await self.users.erase(subject, built_in_account_id(subject))


def sign_in_name(username: str) -> str:
    """The name sign-ins are counted under: the address in lower case, as accounts are
    matched, or the raw username lower-cased when it is no address (it matches no account,
    yet is counted like one, so the count reveals nothing)."""
    try:
        return normalize_email(username).lower()
    except ValueError:
        return username.lower()


def built_in_account_id(subject: str) -> uuid.UUID | None:
    """The account a subject names: the service's own tokens carry its id, canonically
    written. Any other spelling of a UUID is some other issuer's user, who owns other rows."""
    try:
        account_id = uuid.UUID(subject)
    except ValueError:
        return None
    return account_id if str(account_id) == subject else None
