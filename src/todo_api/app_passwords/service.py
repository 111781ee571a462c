"""`AppPasswordService`: the rules of app passwords, for the `/auth/app-passwords` routes
and for `/dav/`'s sign-in (`authenticate`; the seam is described in the package
docstring, __init__.py).

The rules kept here and nowhere else: at most MAX_APP_PASSWORDS per user (409); a password
shown once, stored as a digest (credentials.py); the user name (the built-in account's
email, else the subject); another user's id is 404, as an unknown one, revealing nothing;
a sign-in checks and records the password in one statement, and failed sign-ins are
throttled per user name (sign_in_throttle.py, the counter `POST /auth/token` uses).

Nothing is cached: each sign-in asks the database, so a revocation or an erasure holds at
once on every instance.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from todo_api.app_passwords.credentials import (
    could_be_username,
    new_password,
    password_digest,
    username_keys,
)
from todo_api.app_passwords.repository import AppPasswordRepository
from todo_api.app_passwords.schemas import AppPasswordCreate, AppPasswordCreated, AppPasswordRead
from todo_api.auth.service import built_in_account_id, sign_in_name
from todo_api.database import utc_now
from todo_api.errors import ConflictError, NotFoundError
from todo_api.metrics import AUTH_FAILURES
from todo_api.ratelimit import RateLimiter
from todo_api.sign_in_throttle import SignInThrottle

MAX_APP_PASSWORDS = 50
# How stale `last_used_at` may be: moved once a minute at most, so that an app's burst of
# requests writes once (statements.SIGN_IN).
LAST_USED_PRECISION = timedelta(minutes=1)


class AppPasswordNotFoundError(NotFoundError):
    detail = "You have no app password with this id."


class TooManyAppPasswordsError(ConflictError):
    detail = f"You have {MAX_APP_PASSWORDS} app passwords, the most allowed: revoke one first."


class AppPasswordService:
    __slots__ = ("limiter", "passwords")

    def __init__(self, passwords: AppPasswordRepository, limiter: RateLimiter) -> None:
        self.passwords = passwords
        self.limiter = limiter

    async def create(self, owner: str, data: AppPasswordCreate) -> AppPasswordCreated:
        password = new_password()
        digest = password_digest(password)
        assert digest is not None, "a new password is always one"
        row = await self.passwords.insert_unless_full(
            owner,
            built_in_account_id(owner),
            data.name,
            digest,
            utc_now(),
            most=MAX_APP_PASSWORDS,
        )
        if row is None:
            raise TooManyAppPasswordsError
        return AppPasswordCreated(
            id=row.id,
            name=row.name,
            username=row.username,
            password=password,
            created_at=row.created_at,
        )

    async def all(self, owner: str) -> list[AppPasswordRead]:
        rows = await self.passwords.all(owner)
        return [AppPasswordRead.model_validate(row, from_attributes=True) for row in rows]

    async def revoke(self, owner: str, password_id: uuid.UUID) -> None:
        if not await self.passwords.delete(owner, password_id):
            raise AppPasswordNotFoundError

    async def authenticate(self, username: str, password: str) -> str | None:
        """The subject (`user_id`) whose app password this is under this user name, or None.

        Raises TooManySignInsError (429, with Retry-After) once the user name's failed
        sign-ins reach RATE_LIMIT_LOGIN_FAILURES; a failure is counted, a success clears the
        count (sign_in_throttle.py says why only failures count here). One statement per
        attempt that reaches the database: it checks the password and records `last_used_at`
        (to the minute); a password that cannot be an app password (an account password,
        say) and a user name no row can hold never reach it.
        """
        throttle = SignInThrottle(self.limiter, sign_in_name(username))
        await throttle.check()
        digest = password_digest(password)
        subject = None
        if digest is not None and could_be_username(username):
            now = utc_now()
            subject = await self.passwords.sign_in(
                username_keys(username), digest, now, now - LAST_USED_PRECISION
            )
        if subject is None:
            AUTH_FAILURES.labels("app_password").inc()
            await throttle.failed()
            return None
        await throttle.succeeded()
        return subject
