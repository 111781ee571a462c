"""Request and response bodies of the task routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypedDict

from todo_api.lengths import TITLE_MAX_LENGTH

DESCRIPTION_MAX_LENGTH = 10_000


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8:
    # both must be refused here as 422 rather than fail later in the driver.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


# The rules above, written into the OpenAPI document so that clients (and the fuzzer) know
# them: no NUL anywhere, and a title needs one character that trimming keeps. Trimming
# strips Unicode White_Space (pydantic-core uses Rust's `str::trim`), spelled out here
# because `\s` means different things in different regex dialects. Only documented, not
# enforced by the pattern: the validators above stay the single source of the rules.
_WHITE_SPACE = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NO_NUL_PATTERN = "^[^\\x00]*$"
TITLE_PATTERN = f"^[^\\x00]*[^\\x00{_WHITE_SPACE}][^\\x00]*$"

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(_storable),
    Field(
        description=(
            f"1 to {TITLE_MAX_LENGTH} characters once surrounding white space is trimmed; "
            "no NUL character and no lone surrogate."
        ),
        json_schema_extra={"pattern": TITLE_PATTERN},
    ),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(_storable),
    Field(
        description=(
            f"At most {DESCRIPTION_MAX_LENGTH:,} characters; no NUL character and no lone "
            "surrogate."
        ),
        json_schema_extra={"pattern": NO_NUL_PATTERN},
    ),
]

SearchText = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(_storable),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]


class _StrictBody(BaseModel):
    # Unknown fields are refused and JSON types are taken as they are: "true" is no boolean.
    model_config = ConfigDict(extra="forbid", strict=True)


class TaskCreate(_StrictBody):
    title: Title
    description: Description | None = None
    completed: bool = False


class TaskReplace(TaskCreate):
    """PUT: a full replacement; omitted optional fields become null / false."""


class TaskPatch(_StrictBody):
    """PATCH: any non-empty subset of the fields."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # Defaults are not validated, so an omitted field is simply unset while an explicit
    # null title or completed is still refused by the strict type.
    title: Annotated[Title, Field(default=None)]
    description: Description | None = None
    completed: Annotated[bool, Field(default=None)]

    @model_validator(mode="after")
    def _not_empty(self) -> TaskPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, completed")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskPage(BaseModel):
    items: list[TaskRead]
    total: int = Field(description="How many of the user's tasks match the filters.")
    limit: int
    offset: int


class TaskPageRows(TypedDict):
    """A `TaskPage` as plain data: each item a dict of `TaskRead`'s fields, straight from a row."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class TaskPageResponse(JSONResponse):
    """Renders `TaskPageRows` as the JSON of a `TaskPage`.

    Building and serialising a TaskRead per row cost more than the query that fetched the
    page; orjson writes the same JSON (UUIDs, UTC times ending in Z) from plain dicts.
    """

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


TaskSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]
