"""Task ids as people type them: the full id, or a unique prefix of at least 4 characters;
and lists by name, compared ignoring case as the service compares them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from todo_cli.client import PAGE_SIZE, Task, TaskListInfo, TodoClient
from todo_cli.errors import CliError, InvalidInputError

MIN_PREFIX = 4
MAX_CANDIDATES_SHOWN = 10


@dataclass
class TaskRef:
    id: str
    task: Task | None  # the task as listed, when finding it took a listing


def find_task(client: TodoClient, text: str) -> TaskRef:
    given = text.strip()
    if _is_full_id(given):
        return TaskRef(id=given, task=None)
    if len(given) < MIN_PREFIX:
        raise InvalidInputError(f"an id prefix needs at least {MIN_PREFIX} characters: {text!r}")
    # The service has no prefix search: the user's tasks are listed, as few pages as it takes.
    prefix = given.lower()
    every = client.list_tasks({"sort": "created_at"}, limit=None, page_size=PAGE_SIZE)
    matches = [task for task in every.tasks if str(task.get("id", "")).lower().startswith(prefix)]
    if not matches:
        raise CliError(f"no task has an id starting with {given!r}")
    if len(matches) > 1:
        lines = [f"{given!r} matches {len(matches)} tasks; give more of the id:"]
        for task in matches[:MAX_CANDIDATES_SHOWN]:
            lines.append(f"  {task['id']}  {task.get('title', '')}")
        if len(matches) > MAX_CANDIDATES_SHOWN:
            lines.append(f"  ... and {len(matches) - MAX_CANDIDATES_SHOWN} more")
        raise CliError("\n".join(lines))
    return TaskRef(id=matches[0]["id"], task=matches[0])


def find_list(lists: list[TaskListInfo], name: str) -> TaskListInfo:
    """The list of `lists` named `name`: trimmed, and ignoring case (Unicode case folding,
    as the service keeps names unique)."""
    wanted = name.strip().casefold()
    for task_list in lists:
        if str(task_list.get("name", "")).casefold() == wanted:
            return task_list
    names = ", ".join(str(task_list.get("name", "")) for task_list in lists)
    raise CliError(f"no list is named {name.strip()!r}; your lists: {names}")


def _is_full_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
