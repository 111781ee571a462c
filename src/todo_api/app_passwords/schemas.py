"""Request and response bodies of the `/auth/app-passwords` routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from todo_api.lists.schemas import ListName

_ID_EXAMPLE = "0b6f1c52-7d8e-4f3a-9c21-5e4d3b2a1f60"
_NAME_DESCRIPTION = (
    "What the password is for, to tell it from the others: the rules of a list's name "
    "(trimmed, 1 to 100 characters, no control characters); not unique."
)


class AppPasswordCreate(BaseModel):
    # Unknown fields are refused and JSON types are taken as they are, as for tasks.
    model_config = ConfigDict(extra="forbid", strict=True)

    name: ListName = Field(description=_NAME_DESCRIPTION, examples=["iPhone Reminders"])


class AppPasswordRead(BaseModel):
    id: uuid.UUID = Field(examples=[_ID_EXAMPLE])
    name: str = Field(examples=["iPhone Reminders"])
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When an app last signed in with it (to the minute), or null if never.",
        examples=["2026-12-07T10:15:00Z"],
    )


class AppPasswordCreated(BaseModel):
    id: uuid.UUID = Field(examples=[_ID_EXAMPLE])
    name: str = Field(examples=["iPhone Reminders"])
    username: str = Field(
        description=(
            "The user name to type into the app: your account's email if you have a built-in "
            "account (any case), else your user id (the token's `sub`), exactly."
        ),
        examples=["ada@example.com"],
    )
    password: str = Field(
        description=(
            "The password to type into the app. Shown only in this response: the service "
            "keeps only a hash. 140 random bits; case, dashes and spaces are ignored."
        ),
        examples=["k7qm-x2vd-pa4n-w3tz-hb6e-rj5c-yf2u"],
    )
    created_at: datetime


class AppPasswordPage(BaseModel):
    items: list[AppPasswordRead] = Field(description="Your app passwords, oldest first.")
