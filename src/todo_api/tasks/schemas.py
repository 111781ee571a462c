"""Request and response bodies of the task routes."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import orjson
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypedDict

from todo_api.lengths import TITLE_MAX_LENGTH
from todo_api.tasks.recurrence import Recurrence
from todo_api.tasks.tags import Tags
from todo_api.text import WHITE_SPACE_CLASS as _WHITE_SPACE
from todo_api.text import storable

DESCRIPTION_MAX_LENGTH = 10_000


NO_NUL_PATTERN = "^[^\\x00]*$"
# White space around, then 1 to TITLE_MAX_LENGTH characters that neither start nor end with
# it: the length is of the trimmed title, so the document states it in the pattern and not
# as a maxLength of the raw string, which a title padded with spaces may exceed.
TITLE_PATTERN = (
    f"^[{_WHITE_SPACE}]*[^\\x00{_WHITE_SPACE}]"
    f"([^\\x00]{{0,{TITLE_MAX_LENGTH - 2}}}[^\\x00{_WHITE_SPACE}])?[{_WHITE_SPACE}]*$"
)


def _title_schema(schema: dict[str, Any]) -> None:
    schema.pop("minLength", None)
    schema.pop("maxLength", None)
    schema["pattern"] = TITLE_PATTERN


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(storable),
    Field(
        description=(
            f"1 to {TITLE_MAX_LENGTH} characters once surrounding white space is trimmed; "
            "no NUL character and no lone surrogate."
        ),
        json_schema_extra=_title_schema,
        examples=["Buy milk"],
    ),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(storable),
    Field(
        description=(
            f"At most {DESCRIPTION_MAX_LENGTH:,} characters; no NUL character and no lone "
            "surrogate."
        ),
        json_schema_extra={"pattern": NO_NUL_PATTERN},
        examples=["Two litres, semi-skimmed."],
    ),
]

Priority = Literal["none", "low", "medium", "high"]
# Rank order: sorting by the stored rank sorts none < low < medium < high.
PRIORITY_NAMES: tuple[Priority, ...] = get_args(Priority)
PRIORITY_RANKS: dict[Priority, int] = {name: rank for rank, name in enumerate(PRIORITY_NAMES)}

# RFC 3339's date-time: seconds and an offset are required. Parsed here because pydantic's
# own parser also takes Unix times, a space for the T and times without seconds, which
# RFC 3339 does not. Year 0000 exists in RFC 3339 but not in Python (nor in most clients).
RFC3339_PATTERN = r"^(?!0000)\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)


def _rfc3339_with_offset(value: object) -> object:
    if not isinstance(value, str):
        return value  # refused by the strict datetime type that follows
    try:
        if _RFC3339.match(value):
            return datetime.fromisoformat(value.upper())
    except ValueError:
        pass
    raise ValueError(
        "must be an RFC 3339 date-time with a time zone offset, e.g. 2026-12-01T17:00:00+01:00"
    )


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


DueTime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_with_offset),
    AfterValidator(_in_utc),
    Field(
        description="An RFC 3339 date-time with a time zone offset; returned in UTC.",
        examples=["2026-12-01T17:00:00+01:00"],
        json_schema_extra={"pattern": RFC3339_PATTERN},
    ),
]

PriorityField = Annotated[
    Priority,
    Field(
        description="none, low, medium or high; sorting follows that rank.",
        examples=["high"],
    ),
]

SearchText = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(storable),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}, examples=["milk"]),
]


def _true_or_false(value: object) -> object:
    # pydantic would also read 1, yes, on, t... as true: the contract has two words only.
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


QueryBoolean = Annotated[bool, BeforeValidator(_true_or_false)]


class _StrictBody(BaseModel):
    # Unknown fields are refused and JSON types are taken as they are: "true" is no boolean.
    model_config = ConfigDict(extra="forbid", strict=True)


# A list's id in a body: a UUID string (the body's strict mode takes only UUID objects).
ListId = Annotated[
    uuid.UUID,
    Field(
        strict=False,
        description=(
            "One of your lists (`GET /lists`). Any other id, whether such a list exists or "
            "not, is 422."
        ),
        examples=["5f0c2a8e-9b1d-4c3e-8a7f-6d5e4c3b2a19"],
    ),
]


# A task's id in a body: a UUID string, as for lists.
TaskId = Annotated[
    uuid.UUID, Field(strict=False, examples=["0b9e4c1e-8d5a-4f43-9c1a-2f4b7c3d9e10"])
]
PARENT_RULES = "Another of your tasks in the same list, or null (top-level); at most 4 levels."


class _TaskContent(_StrictBody):
    title: Title
    description: Description | None = None
    completed: Annotated[bool, Field(examples=[False])] = False
    priority: PriorityField = "none"
    due_at: DueTime | None = None
    tags: Tags = Field(default_factory=list)
    recurrence: Annotated[
        Recurrence | None,
        Field(description="How the task repeats (needs `due_at`); null: it does not."),
    ] = None


class TaskCreate(_TaskContent):
    list_id: Annotated[
        ListId | None,
        Field(
            description="The list to create the task in; absent or null: your default list.",
            # null first: the body that /docs offers creates the task in the default list
            # rather than in a list id that no reader has.
            examples=[None],
        ),
    ] = None
    parent_id: Annotated[
        TaskId | None,
        Field(
            description=f"{PARENT_RULES} Without `list_id`: into its parent's list.",
            examples=[None],
        ),
    ] = None


class TaskReplace(_TaskContent):
    """PUT: a full replacement of the content; omitted optional fields return to their
    defaults. It never moves the task: its list is placement, not content. Without
    `recurrence` the task keeps its recurrence, so a version 2 client never drops one; an
    explicit null clears it."""

    def replacement(self) -> dict[str, Any]:
        fields = self.model_dump()
        if "recurrence" not in self.model_fields_set:
            del fields["recurrence"]
        return fields


class TaskPatch(_StrictBody):
    """PATCH: any non-empty subset of the fields."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # Defaults are not validated, so an omitted field is simply unset while an explicit
    # null title or completed is still refused by the strict type.
    title: Annotated[Title, Field(default=None)]
    description: Description | None = None
    completed: Annotated[bool, Field(default=None, examples=[True])]
    priority: Annotated[PriorityField, Field(default=None)]
    due_at: DueTime | None = None
    tags: Annotated[Tags, Field(default=None)]
    recurrence: Recurrence | None = Field(
        default=None,
        description=(
            "Make the task repeat (from its due_at, given here or already set), or stop it: null."
        ),
    )
    list_id: Annotated[
        ListId,
        Field(
            default=None,
            description=(
                "Move the task, with its subtasks, to the end of this list (a subtask moved "
                "alone becomes top-level there); its current list changes nothing."
            ),
        ),
    ]
    parent_id: Annotated[
        TaskId | None,
        Field(
            default=None,
            description=f"{PARENT_RULES} The task goes last among its new siblings.",
            examples=[None],
        ),
    ]

    @model_validator(mode="after")
    def _not_empty(self) -> TaskPatch:
        if not self.model_fields_set:
            raise ValueError(
                "give at least one of title, description, completed, priority, due_at, tags, "
                "recurrence, list_id, parent_id"
            )
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    list_id: uuid.UUID = Field(description="The list the task is in.")
    parent_id: uuid.UUID | None = Field(
        description="The task's parent, in the same list; null for a top-level task.",
        examples=[None],
    )
    position: str = Field(
        description="Opaque; siblings are in (position, id) order by code point.",
        examples=["c42"],
    )
    title: str
    description: str | None
    completed: bool
    priority: PriorityField
    due_at: datetime | None = Field(
        description="When the task is due, in UTC; null when it has no due date.",
        examples=["2026-12-01T16:00:00Z"],
    )
    tags: list[str] = Field(
        description="The task's tags, normalised, in the order given.",
        examples=[["errands", "home"]],
    )
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    recurrence: Recurrence | None = Field(
        description="How the task repeats; null when it does not.",
        examples=[{"rule": "FREQ=WEEKLY;BYDAY=MO", "time_zone": "Europe/Berlin", "from": "due"}],
    )
    etag: str = Field(
        description="The task's current entity tag, the same string as the ETag header.",
        examples=['"42"'],
    )


class TaskPage(BaseModel):
    items: list[TaskRead]
    total: int = Field(description="How many of the user's tasks match the filters.")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description=(
            "Pass it as `cursor`, with the same filters and sort, for the next page; null "
            "on the last page. Opaque to clients."
        )
    )


class TaskPageRows(TypedDict):
    """A `TaskPage` as plain data: each item a dict of `TaskRead`'s fields, straight from a row."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    next_cursor: str | None


class TaskPageResponse(JSONResponse):
    """Renders `TaskPageRows` as the JSON of a `TaskPage`.

    Building and serialising a TaskRead per row cost more than the query that fetched the
    page; orjson writes the same JSON (UUIDs, UTC times ending in Z) from plain dicts.
    """

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


TaskSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "due_at",
    "-due_at",
    "priority",
    "-priority",
    "position",
    "-position",
]
