"""The `CurrentUser` dependency: every protected route asks for it and nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from todo_api.auth.tokens import InvalidTokenError, KeySourceUnavailableError, Principal
from todo_api.errors import AppError, UnauthorizedError
from todo_api.state import ResourcesDep

# Two documented schemes for the same header: the password flow drives the Authorize button
# of /docs, plain bearer lets front-end developers paste a token from their sign-in layer.
_password_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
_http_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class KeySourceUnavailableResponseError(AppError):
    status = 503
    detail = "The token issuer's keys cannot be fetched right now; try again shortly."


async def current_user(
    resources: ResourcesDep,
    password_token: Annotated[str | None, Depends(_password_bearer)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_http_bearer)],
) -> Principal:
    token = bearer.credentials if bearer is not None else password_token
    if token is None:
        raise UnauthorizedError("A bearer token is required.", headers=_CHALLENGE)
    try:
        return await resources.verifier.verify(token)
    except InvalidTokenError:
        raise UnauthorizedError(
            "The bearer token is invalid or expired.", headers=_INVALID_TOKEN_CHALLENGE
        ) from None
    except KeySourceUnavailableError:
        raise KeySourceUnavailableResponseError(headers={"Retry-After": "5"}) from None


CurrentUser = Annotated[Principal, Depends(current_user)]
