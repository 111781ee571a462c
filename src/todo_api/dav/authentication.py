"""Who a `/dav/` request speaks for: the one place CalDAV sign-in is decided.

Calendar apps sign in with HTTP Basic and an app password (app_passwords/basic.py, which
also throttles failed sign-ins per user name); scripts and tests may send the REST API's
`Authorization: Bearer` token, verified exactly as `/tasks` verifies it. Every failure is 401
with the Basic challenge, the one calendar apps understand. A signed-in request counts
against its user's rate limit, like any `/tasks` request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from todo_api.app_passwords.basic import BASIC_CHALLENGE, subject_from_basic
from todo_api.auth.dependencies import authenticate as authenticate_bearer
from todo_api.connections import RequestConnectionDep
from todo_api.errors import AppError, UnauthorizedError
from todo_api.metrics import AUTH_FAILURES
from todo_api.ratelimit import limit_by_subject
from todo_api.state import resources_of


async def dav_user(request: Request, connection: RequestConnectionDep) -> str:
    """The subject of the signed-in caller of a `/dav/` request, rate-limited."""
    header = request.headers.get("authorization")
    if header is not None and header[:7].lower() == "bearer ":
        try:
            principal = await authenticate_bearer(
                request, resources_of(request).verifier, header[7:].strip()
            )
        except UnauthorizedError:
            raise UnauthorizedError(
                "The bearer token is invalid or expired.", headers=BASIC_CHALLENGE
            ) from None
        except AppError:
            raise
        subject = principal.subject
    else:
        if header is None:
            AUTH_FAILURES.labels("missing").inc()
        subject = await subject_from_basic(request, connection, header)
    await limit_by_subject(request, resources_of(request).rate_limiter, subject)
    return subject


# scope="function", as the connection it shares.
DavUser = Annotated[str, Depends(dav_user, scope="function")]
