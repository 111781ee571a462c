"""Request and response bodies of the `/auth` routes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from todo_api.lengths import EMAIL_MAX_LENGTH
from todo_api.text import valid_unicode

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def _any_case(word: str) -> str:
    return "".join(f"[{letter.upper()}{letter}]" for letter in word)


# The addresses accepted, as a pattern for the OpenAPI document, so clients and the fuzzer
# know the rule: a dot-atom local part of 1 to 64 characters, an ASCII host name whose last
# label ends in a letter, no "--" in the domain (IDNA's reserved form), no special-use
# domain. Only lookaheads that forbid are used, so generators (Hypothesis) can still build
# matching strings. Every match also passes email-validator, which then normalises it
# (checked with 30,000 generated addresses); both checks run.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z])?"
_SPECIAL_USE = "|".join(
    _any_case(name) for name in ("arpa", "invalid", "local", "localhost", "onion", "test")
)
EMAIL_PATTERN = (
    f"^(?![^@]*\\.\\.)(?!.*@.*--)(?!.*[.@](?:{_SPECIAL_USE})$)"
    f"[{_ATEXT}-](?:[{_ATEXT}.-]{{0,62}}[{_ATEXT}-])?@(?:{_LABEL}\\.)+{_TOP_LABEL}$"
)
_EMAIL = re.compile(EMAIL_PATTERN)


def normalize_email(value: str) -> str:
    """The address in canonical form (domain lower-cased); ValueError when it is not one.

    Addresses are ASCII: SQLite's and PostgreSQL's lower() then fold them alike, whatever
    the database's locale, so the case-insensitive unique index means the same on both.
    """
    if len(value) > EMAIL_MAX_LENGTH or _EMAIL.fullmatch(value) is None:
        raise ValueError("not a valid email address")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        # The library's own message is not passed on: it may quote the input back.
        raise ValueError("not a valid email address") from None
    return result.normalized


EMAIL_EXAMPLE = "ada@example.com"
PASSWORD_EXAMPLE = "correct horse battery"  # noqa: S105  (an example in the docs)

Email = Annotated[
    str,
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    AfterValidator(normalize_email),
    Field(
        json_schema_extra={"format": "email", "pattern": EMAIL_PATTERN},
        description="An ASCII email address; the part before the @ keeps its case, the domain "
        "is lower-cased, and no two accounts share an address in any case.",
        examples=[EMAIL_EXAMPLE],
    ),
]
Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(valid_unicode),
    Field(
        json_schema_extra={"format": "password", "writeOnly": True},
        description="8 to 128 characters.",
        examples=[PASSWORD_EXAMPLE],
    ),
]


class UserCreate(BaseModel):
    # Same conventions as the task bodies: unknown fields refused, JSON types strict.
    model_config = ConfigDict(extra="forbid", strict=True)

    email: Email
    password: Password


class PasswordGrant(BaseModel):
    """The form of an OAuth2 password grant (RFC 6749 section 4.3.2).

    No client credentials: the service's clients are public, so a client id or secret, like
    any other extra field, is ignored.
    """

    grant_type: Annotated[
        Literal["password"] | None,
        Field(description="`password`, or left out.", examples=["password"]),
    ] = None
    username: Annotated[
        str, Field(description="The email address of your account.", examples=[EMAIL_EXAMPLE])
    ]
    password: Annotated[
        str,
        Field(
            json_schema_extra={"format": "password", "writeOnly": True},
            examples=[PASSWORD_EXAMPLE],
        ),
    ]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime


class AccessToken(BaseModel):
    # Sent in every response: required in the OpenAPI schema even though it has a default.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires.")


class Me(BaseModel):
    id: str = Field(description="The token's subject: the id that owns tasks.")
    email: str | None = Field(description="The token's email claim, or null when it has none.")
