"""The body of `POST /tasks/{id}/move`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from todo_api.tasks.schemas import PARENT_RULES, ListId, TaskId


class TaskMove(BaseModel):
    """`POST /tasks/{id}/move`: absent fields keep their values, except that a new `list_id`
    without `parent_id` makes the task top-level there."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        # No null in an example: the published document leaves out null values, so
        # `{"after": null}` (first) would read as `{}` (last). The descriptions say it.
        json_schema_extra={
            "examples": [
                {"after": "0b9e4c1e-8d5a-4f43-9c1a-2f4b7c3d9e10"},
                {"parent_id": "7d4f3b2a-1c0e-4f9d-8b7a-6c5d4e3f2a10"},
                {"list_id": "5f0c2a8e-9b1d-4c3e-8a7f-6d5e4c3b2a19"},
                {},
            ]
        },
    )

    list_id: Annotated[
        ListId,
        Field(default=None, description="The list to move the task, with its subtasks, to."),
    ]
    parent_id: Annotated[
        TaskId | None,
        Field(default=None, description=f"The new parent. {PARENT_RULES}"),
    ]
    after: Annotated[
        TaskId | None,
        Field(
            default=None,
            description=(
                "A task among the new siblings to place it right after, or null to place it "
                "first; absent: after the last sibling."
            ),
        ),
    ]
