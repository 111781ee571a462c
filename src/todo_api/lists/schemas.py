"""Request and response bodies of the list routes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from todo_api.lengths import LIST_NAME_MAX_LENGTH
from todo_api.text import WHITE_SPACE, valid_unicode

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
# The rule below as a pattern in the OpenAPI document (white space around, then 1 to 100
# characters without control characters that neither start nor end with white space), for
# clients and the fuzzer; `normalise_list_name` is the rule.
_SPACE = "".join(f"\\u{ord(character):04x}" for character in WHITE_SPACE)
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
LIST_NAME_PATTERN = (
    f"^[{_SPACE}]*[^{_CONTROLS}{_SPACE}]"
    f"([^{_CONTROLS}]{{0,{LIST_NAME_MAX_LENGTH - 2}}}[^{_CONTROLS}{_SPACE}])?[{_SPACE}]*$"
)


def normalise_list_name(value: str) -> str:
    name = value.strip(WHITE_SPACE)
    if not 1 <= len(name) <= LIST_NAME_MAX_LENGTH:
        raise ValueError(f"must be 1 to {LIST_NAME_MAX_LENGTH} characters once trimmed")
    if _CONTROL_CHARACTER.search(name):
        raise ValueError("must not contain control characters")
    return valid_unicode(name)


def name_key(name: str) -> str:
    """What makes two names the same name: compared ignoring case (Unicode case folding)."""
    return name.casefold()


ListName = Annotated[
    str,
    AfterValidator(normalise_list_name),
    Field(
        description=(
            f"Trimmed, then 1 to {LIST_NAME_MAX_LENGTH} characters with no control characters; "
            "unique among your lists, ignoring case."
        ),
        examples=["Groceries"],
        json_schema_extra={"pattern": LIST_NAME_PATTERN},
    ),
]


class _StrictBody(BaseModel):
    # Unknown fields are refused and JSON types are taken as they are, as for tasks.
    model_config = ConfigDict(extra="forbid", strict=True)


class ListCreate(_StrictBody):
    name: ListName


class ListRename(_StrictBody):
    name: ListName


class ListRead(BaseModel):
    id: uuid.UUID = Field(examples=["5f0c2a8e-9b1d-4c3e-8a7f-6d5e4c3b2a19"])
    name: str = Field(examples=["Groceries"])
    is_default: bool = Field(
        description=(
            "The list that tasks go to when no list is named; it cannot be deleted, and is "
            "named `Tasks` until renamed."
        ),
        examples=[False],
    )
    created_at: datetime
    updated_at: datetime
    etag: str = Field(
        description="The list's current entity tag, the same string as the ETag header.",
        examples=['"43"'],
    )


class ListPage(BaseModel):
    items: list[ListRead] = Field(
        description="Your lists: the default list first, then by name (code point order)."
    )
