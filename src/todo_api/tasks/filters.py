"""`TaskFilters`: the filters of `GET /tasks`, as the service receives them and the list query
reads them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from todo_api.tasks.schemas import Priority


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The filters of GET /tasks; None (or empty) means "not filtered by this"."""

    completed: bool | None = None
    query: str | None = None
    priorities: tuple[Priority, ...] = ()
    tags: tuple[str, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    list_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    top_level: bool | None = None

    def shape(self) -> tuple[bool | None, ...]:
        """Which filters are in use: the statement differs only by these."""
        return (
            self.completed is not None,
            bool(self.query),
            bool(self.priorities),
            bool(self.tags),
            self.due_before is not None,
            self.due_after is not None,
            self.list_id is not None,
            self.parent_id is not None,
            # Not only whether: top_level=false is another statement than true.
            self.top_level,
        )

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.completed is not None:
            params["completed"] = self.completed
        if self.query:
            params["pattern"] = _like_pattern(self.query)
        if self.priorities:
            params["priorities"] = list(self.priorities)
        if self.tags:
            params["tags"] = list(self.tags)
        if self.due_before is not None:
            params["due_before"] = self.due_before
        if self.due_after is not None:
            params["due_after"] = self.due_after
        if self.list_id is not None:
            params["list_id"] = self.list_id
        if self.parent_id is not None:
            params["parent_id"] = self.parent_id
        return params
