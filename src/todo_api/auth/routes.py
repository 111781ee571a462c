"""The `/auth` routes: built-in accounts and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from todo_api.auth import service
from todo_api.auth.dependencies import CurrentUser
from todo_api.auth.schemas import AccessToken, Me, UserCreate, UserRead
from todo_api.auth.tokens import issue_token
from todo_api.errors import ForbiddenError, problem_responses
from todo_api.ratelimit import limit_by_address
from todo_api.state import ResourcesDep

router = APIRouter(prefix="/auth", tags=["auth"])

_COMMON = (429, 503)


class AccountsDisabledError(ForbiddenError):
    detail = "Built-in accounts are turned off on this service."


class RegistrationDisabledError(ForbiddenError):
    detail = "Registration is turned off on this service."


# async, like every dependency here: a plain `def` would cost a thread-pool hop.
async def _accounts_enabled(resources: ResourcesDep) -> None:
    # Without a signing secret (a JWKS-only deployment) the service cannot issue tokens.
    if resources.settings.signing_secret is None:
        raise AccountsDisabledError


async def _registration_enabled(resources: ResourcesDep) -> None:
    if not resources.settings.auth_registration_enabled:
        raise RegistrationDisabledError


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Answers 403 when `AUTH_REGISTRATION_ENABLED=false` or built-in accounts "
    "are off (no `JWT_SECRET` outside development).",
    # Checked before the body is validated.
    dependencies=[
        Depends(limit_by_address),
        Depends(_accounts_enabled),
        Depends(_registration_enabled),
    ],
    responses={
        403: problem_responses(403)[403]
        | {"description": "Registration or built-in accounts are turned off."},
        409: problem_responses(409)[409] | {"description": "The email is taken."},
        **problem_responses(400, 413, 415, 422, *_COMMON),
    },
)
async def register(data: UserCreate, resources: ResourcesDep) -> UserRead:
    return await service.register_user(resources.database, resources.passwords, data)


@router.post(
    "/token",
    response_model=AccessToken,
    summary="Sign in with email and password (OAuth2 password grant)",
    description="Form fields `username` (the email) and `password`. The same 401 answers an "
    "unknown email and a wrong password.",
    dependencies=[Depends(limit_by_address), Depends(_accounts_enabled)],
    responses={
        403: problem_responses(403)[403] | {"description": "Built-in accounts are turned off."},
        **problem_responses(400, 401, 413, 422, *_COMMON),
    },
)
async def issue_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    resources: ResourcesDep,
    response: Response,
) -> AccessToken:
    user = await service.authenticate(
        resources.database, resources.passwords, form.username, form.password
    )
    token, lifetime = issue_token(
        resources.settings, user.subject, extra_claims={"email": user.email}
    )
    # RFC 6749 section 5.1: responses that carry tokens must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return AccessToken(access_token=token, expires_in=lifetime)


@router.get(
    "/me",
    response_model=Me,
    summary="Who the bearer token speaks for",
    responses=problem_responses(401, *_COMMON),
)
async def me(user: CurrentUser) -> Me:
    return Me(id=user.subject, email=user.email)
