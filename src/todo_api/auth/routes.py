"""The `/auth` routes: built-in accounts and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status

from todo_api.auth.dependencies import AccountServiceDep, CurrentUser
from todo_api.auth.schemas import AccessToken, Me, PasswordGrant, UserCreate, UserRead
from todo_api.auth.service import sign_in_name
from todo_api.auth.token_errors import TOKEN_PATH, token_error_responses
from todo_api.auth.tokens import issue_token
from todo_api.errors import ForbiddenError, problem_responses
from todo_api.ratelimit import limit_by_address
from todo_api.sign_in_throttle import login_attempt
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
async def register(data: UserCreate, accounts: AccountServiceDep) -> UserRead:
    return await accounts.register(data)


@router.post(
    TOKEN_PATH.removeprefix(router.prefix),
    response_model=AccessToken,
    summary="Sign in with email and password (OAuth2 password grant)",
    description="Form fields `username` (the email) and `password`. The same 401 answers an "
    "unknown email and a wrong password. After `RATE_LIMIT_LOGIN_FAILURES` failed sign-ins "
    "for one email (5 in 15 minutes by default; known or not), that email gets 429 with "
    "`Retry-After` until the window ends; a successful sign-in clears the count. "
    "Errors are problem documents that also carry OAuth2's `error` and `error_description` "
    "(RFC 6749 section 5.2).",
    dependencies=[Depends(limit_by_address), Depends(_accounts_enabled)],
    responses={
        403: token_error_responses(403)[403] | {"description": "Built-in accounts are turned off."},
        **token_error_responses(400, 401, 413, 422, *_COMMON),
    },
)
async def issue_access_token(
    form: Annotated[PasswordGrant, Form()],
    accounts: AccountServiceDep,
    resources: ResourcesDep,
    request: Request,
    response: Response,
) -> AccessToken:
    email = sign_in_name(form.username)
    async with login_attempt(request, resources.rate_limiter, email):
        user = await accounts.authenticate(form.username, form.password)
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


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Erase your account and everything the service holds for you",
    description="Deletes, in one transaction, every task and list of the token's subject and the "
    "built-in account it names, if any (its email can then be registered again). Tokens "
    "already issued stay valid until they expire, but find nothing. Another user's data is "
    "untouched. Repeating it is harmless: 204 again.",
    responses=problem_responses(401, *_COMMON),
)
async def erase_me(user: CurrentUser, accounts: AccountServiceDep) -> Response:
    await accounts.erase(user.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
