"""The `/auth/app-passwords` routes: read typed inputs, call one service method, return its
result."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from todo_api.app_passwords.dependencies import AppPasswordServiceDep
from todo_api.app_passwords.schemas import AppPasswordCreate, AppPasswordCreated, AppPasswordPage
from todo_api.app_passwords.service import MAX_APP_PASSWORDS
from todo_api.auth.dependencies import CurrentUser
from todo_api.errors import problem_responses

router = APIRouter(prefix="/auth/app-passwords", tags=["app passwords"])

_COMMON = (401, 429, 503)

PasswordId = Annotated[
    uuid.UUID,
    Path(
        description="The app password's id (a UUID).",
        examples=["0b6f1c52-7d8e-4f3a-9c21-5e4d3b2a1f60"],
    ),
]


def _described(status_code: int, description: str) -> dict[int | str, dict[str, object]]:
    return {
        status_code: {**problem_responses(status_code)[status_code], "description": description}
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AppPasswordCreated,
    summary="Create an app password for a calendar app",
    description=(
        "A password for one calendar or reminder app to sign in to `/dav/` with (HTTP Basic, "
        "with `username`). The password is in this response only; the service keeps a hash. "
        "It is never accepted by the REST API or `POST /auth/token`. Not retried under an "
        f"Idempotency-Key: the answer holds a secret that is never stored. At most "
        f"{MAX_APP_PASSWORDS} per user."
    ),
    responses={
        **problem_responses(*_COMMON, 400, 413, 415, 422),
        **_described(409, f"You have {MAX_APP_PASSWORDS} app passwords already."),
    },
)
async def create_app_password(
    data: AppPasswordCreate, user: CurrentUser, passwords: AppPasswordServiceDep
) -> AppPasswordCreated:
    return await passwords.create(user.subject, data)


@router.get(
    "",
    response_model=AppPasswordPage,
    summary="List your app passwords",
    description="Every app password of yours, oldest first, with when it was last used; "
    "never the passwords themselves.",
    responses=problem_responses(*_COMMON),
)
async def list_app_passwords(
    user: CurrentUser, passwords: AppPasswordServiceDep
) -> AppPasswordPage:
    return AppPasswordPage(items=await passwords.all(user.subject))


@router.delete(
    "/{password_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke an app password",
    description="The password stops working at once, on every instance.",
    responses={
        **problem_responses(*_COMMON, 422),
        **_described(404, "You have no app password with this id (another user's is 404 too)."),
    },
)
async def revoke_app_password(
    password_id: PasswordId, user: CurrentUser, passwords: AppPasswordServiceDep
) -> Response:
    await passwords.revoke(user.subject, password_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
