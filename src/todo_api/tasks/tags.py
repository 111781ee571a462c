"""A task's tags: the rule that makes a tag (trimmed, lower-cased, no control characters),
the list of them a task carries, and the `/tags` answer."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from todo_api.text import WHITE_SPACE, storable
from todo_api.text import WHITE_SPACE_CLASS as _WHITE_SPACE

TAG_MAX_LENGTH = 50
MAX_TAGS = 20

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
# The tag rules in the OpenAPI document, as for titles: white space around, then 1 to 50
# characters without control characters that do not start or end with white space. Only
# documented; `normalise_tag` is the rule.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
TAG_PATTERN = (
    f"^[{_WHITE_SPACE}]*[^{_CONTROLS}{_WHITE_SPACE}]"
    f"([^{_CONTROLS}]{{0,{TAG_MAX_LENGTH - 2}}}[^{_CONTROLS}{_WHITE_SPACE}])?[{_WHITE_SPACE}]*$"
)


def normalise_tag(value: str) -> str:
    tag = value.strip(WHITE_SPACE).lower()
    if not 1 <= len(tag) <= TAG_MAX_LENGTH:
        raise ValueError(f"a tag must be 1 to {TAG_MAX_LENGTH} characters once trimmed")
    if _CONTROL_CHARACTER.search(tag):
        raise ValueError("a tag must not contain control characters")
    return storable(tag)


def _first_of_each(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tag = Annotated[
    str,
    AfterValidator(normalise_tag),
    Field(
        description=(
            f"Trimmed and lower-cased, then 1 to {TAG_MAX_LENGTH} characters with no control "
            "characters."
        ),
        examples=["errands"],
        json_schema_extra={"pattern": TAG_PATTERN},
    ),
]
Tags = Annotated[
    list[Tag],
    Field(
        max_length=MAX_TAGS,
        description=(
            f"At most {MAX_TAGS} tags, each trimmed and lower-cased; duplicates after that are "
            "dropped, keeping the first. Kept in the order given."
        ),
        examples=[["errands", "home"]],
    ),
    AfterValidator(_first_of_each),
]


class TagCount(BaseModel):
    name: str = Field(description="The tag.", examples=["errands"])
    count: int = Field(description="How many of your tasks carry it.", examples=[3])


class TagList(BaseModel):
    items: list[TagCount] = Field(
        description="Your tags, sorted by name (Unicode code point order).",
        examples=[[{"name": "errands", "count": 3}, {"name": "home", "count": 1}]],
    )
