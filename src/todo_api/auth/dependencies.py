"""Bearer authentication: `CurrentUser` is the caller, authenticated and rate-limited;
`AccountServiceDep` the built-in accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from todo_api.auth.repository import UserRepository
from todo_api.auth.service import AccountService
from todo_api.auth.token_errors import TOKEN_PATH
from todo_api.auth.tokens import (
    InvalidTokenError,
    KeySourceUnavailableError,
    Principal,
    TokenVerifier,
)
from todo_api.errors import AppError, UnauthorizedError
from todo_api.metrics import AUTH_FAILURES
from todo_api.ratelimit import limit_by_subject
from todo_api.state import resources_of

# The password flow drives the Authorize button of /docs. The same header is also documented
# as a plain bearer scheme (openapi.py) for tokens from outside sign-in layers.
bearer_token = OAuth2PasswordBearer(
    tokenUrl=TOKEN_PATH,
    scheme_name="BuiltInAccount",
    description="**An account on this service** (made with `POST /auth/register`): type your "
    "**email address in `username`** and your password. No client id or secret is needed.",
    auto_error=False,
)
# Every route that needs a token depends on this, which also declares its security in the
# OpenAPI document: no route lists it by hand.
BearerToken = Annotated[str | None, Depends(bearer_token)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class KeySourceUnavailableResponseError(AppError):
    status = 503
    detail = "The token issuer's keys cannot be fetched right now; try again shortly."


async def authenticate(request: Request, verifier: TokenVerifier, token: str | None) -> Principal:
    """The user a bearer token speaks for."""
    if not token:
        AUTH_FAILURES.labels("missing").inc()
        raise UnauthorizedError("A bearer token is required.", headers=_CHALLENGE)
    try:
        principal = await verifier.verify(token)
    except InvalidTokenError as error:
        AUTH_FAILURES.labels(error.reason).inc()
        raise UnauthorizedError(
            "The bearer token is invalid or expired.", headers=_INVALID_TOKEN_CHALLENGE
        ) from None
    except KeySourceUnavailableError:
        AUTH_FAILURES.labels("key_source_unavailable").inc()
        raise KeySourceUnavailableResponseError(headers={"Retry-After": "5"}) from None
    # For the request log line, which records a keyed hash of it, never the subject itself.
    request.state.subject = principal.subject
    return principal


async def current_user(request: Request, token: BearerToken) -> Principal:
    """Every route that needs a token depends on this: the token's user, counted against
    that user's rate limit."""
    resources = resources_of(request)
    principal = await authenticate(request, resources.verifier, token)
    await limit_by_subject(request, resources.rate_limiter, principal.subject)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def account_service(request: Request) -> AccountService:
    resources = resources_of(request)
    return AccountService(UserRepository(resources.database), resources.passwords)


AccountServiceDep = Annotated[AccountService, Depends(account_service)]
