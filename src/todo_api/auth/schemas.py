"""Request and response bodies of the `/auth` routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from todo_api.auth.models import EMAIL_MAX_LENGTH

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def normalize_email(value: str) -> str:
    """The address in canonical form (domain lower-cased); ValueError when it is not one.

    Local parts must be ASCII: SQLite's lower() only folds ASCII, so this keeps the
    case-insensitive unique index behaving the same on SQLite and PostgreSQL.
    """
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        # The library's own message is not passed on: it may quote the input back.
        raise ValueError("not a valid email address") from None
    return result.normalized


def _encodable_password(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


Email = Annotated[
    str,
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    AfterValidator(normalize_email),
    Field(json_schema_extra={"format": "email"}, description="An email address."),
]
Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_encodable_password),
    Field(
        json_schema_extra={"format": "password", "writeOnly": True},
        description="8 to 128 characters.",
    ),
]


class UserCreate(BaseModel):
    # Same conventions as the task bodies: unknown fields refused, JSON types strict.
    model_config = ConfigDict(extra="forbid", strict=True)

    email: Email
    password: Password


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires.")


class Me(BaseModel):
    id: str = Field(description="The token's subject: the id that owns tasks.")
    email: str | None = Field(description="The token's email claim, or null when it has none.")
