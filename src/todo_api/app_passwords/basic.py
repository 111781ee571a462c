"""HTTP Basic sign-in with an app password (RFC 7617), for `/dav/`.

    subject = await subject_from_basic(request, connection, request.headers.get("authorization"))

or, as a dependency of a route, `subject: BasicSubject`. Either gives the subject (the
`user_id` that owns the tasks) whose app password the header carries, or raises:
`UnauthorizedError` (401, `WWW-Authenticate: Basic realm="todo-api", charset="UTF-8"`) for a
missing or malformed header or a wrong user name or password; `TooManySignInsError` (429,
Retry-After, and the RateLimit-* headers of the sign-in limit) once the user name's failed
sign-ins reach RATE_LIMIT_LOGIN_FAILURES. Both are AppErrors: the one error handler renders
them. `connection` is the request's `RequestConnection` (`RequestConnectionDep`), so the
sign-in's one statement shares the request's connection with the work that follows.

Only app passwords pass here: an account password is never one (app_passwords/credentials.py).
The per-subject rate limit of authenticated requests is the caller's to apply after this
(`ratelimit.limit_by_subject`), as `CurrentUser` does for bearer tokens.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from todo_api.app_passwords.dependencies import app_password_service
from todo_api.connections import RequestConnection, RequestConnectionDep
from todo_api.errors import UnauthorizedError
from todo_api.sign_in_throttle import TooManySignInsError, describe_refusal
from todo_api.state import resources_of

REALM = "todo-api"
BASIC_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}


class BasicCredentialsRequiredError(UnauthorizedError):
    detail = "Sign in with your user name and an app password (HTTP Basic)."

    def __init__(self) -> None:
        super().__init__(headers=BASIC_CHALLENGE)


class WrongAppPasswordError(UnauthorizedError):
    # One answer for an unknown user name and a wrong password, so neither is revealed.
    detail = "The user name or app password is wrong."

    def __init__(self) -> None:
        super().__init__(headers=BASIC_CHALLENGE)


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user name, password) from an `Authorization: Basic ...` value, or None when it is
    absent or not well-formed. Decoded as UTF-8, as the challenge's charset says: FastAPI's
    HTTPBasic decodes ASCII only, which would refuse a subject with any other character."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        return None
    return username, password


async def subject_from_basic(
    request: Request, connection: RequestConnection, authorization: str | None
) -> str:
    """The subject an `Authorization: Basic` value signs in as (module docstring)."""
    credentials = basic_credentials(authorization)
    if credentials is None:
        raise BasicCredentialsRequiredError
    service = app_password_service(resources_of(request), connection)
    try:
        subject = await service.authenticate(*credentials)
    except TooManySignInsError as error:
        describe_refusal(request, error)
        raise
    if subject is None:
        raise WrongAppPasswordError
    # For the request log line, which records a keyed hash of it, as for bearer tokens.
    request.state.subject = subject
    return subject


async def basic_subject(request: Request, connection: RequestConnectionDep) -> str:
    return await subject_from_basic(request, connection, request.headers.get("authorization"))


# scope="function", as the connection it shares.
BasicSubject = Annotated[str, Depends(basic_subject, scope="function")]
