"""Who a `/dav/` request speaks for: the one place CalDAV sign-in is decided.

Calendar apps sign in with HTTP Basic and an app password; scripts and tests may send the
REST API's `Authorization: Bearer` token, verified exactly as `/tasks` verifies it. Every
failure is 401 with the Basic challenge, the one calendar apps understand. A signed-in
request counts against its user's rate limit, like any `/tasks` request.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from todo_api.auth.dependencies import authenticate as authenticate_bearer
from todo_api.errors import AppError, UnauthorizedError
from todo_api.metrics import AUTH_FAILURES
from todo_api.ratelimit import limit_by_subject
from todo_api.state import resources_of

CHALLENGE = {"WWW-Authenticate": 'Basic realm="todo-api", charset="UTF-8"'}


def _refused(detail: str) -> UnauthorizedError:
    return UnauthorizedError(detail, headers=CHALLENGE)


def basic_credentials(header: str) -> tuple[str, str] | None:
    """The user name and password of a Basic `Authorization` value (RFC 7617, UTF-8)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


async def _basic_subject(request: Request, username: str, password: str) -> str | None:
    """THE place where Basic credentials are checked: app passwords
    (`todo_api.app_passwords`, whose service answers `authenticate(username, password)`
    with the user's subject or None and throttles failures per user name). Until that
    package is part of the service no Basic sign-in succeeds."""
    del request, username, password
    return None


async def dav_user(request: Request) -> str:
    """The subject of the signed-in caller of a `/dav/` request, rate-limited."""
    header = request.headers.get("authorization")
    if not header:
        AUTH_FAILURES.labels("missing").inc()
        raise _refused("Sign in with your user name and an app password.")
    if header[:7].lower() == "bearer ":
        try:
            principal = await authenticate_bearer(
                request, resources_of(request).verifier, header[7:].strip()
            )
        except UnauthorizedError:
            raise _refused("The bearer token is invalid or expired.") from None
        except AppError:
            raise
        subject = principal.subject
    else:
        credentials = basic_credentials(header)
        found = None if credentials is None else await _basic_subject(request, *credentials)
        if found is None:
            AUTH_FAILURES.labels("basic").inc()
            raise _refused("The user name or app password is wrong.")
        subject = request.state.subject = found
    await limit_by_subject(request, resources_of(request).rate_limiter, subject)
    return subject


DavUser = Annotated[str, Depends(dav_user)]
