"""Subtasks under their parents, for `todo list`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Task = dict[str, Any]
# Spaces before a subtask's title, per level below the top.
INDENT = "  "


def nested(tasks: Sequence[Task]) -> list[Task]:
    """The tasks with each subtask right after its parent (and the parent's earlier
    subtasks), its title indented by its depth. Siblings keep the order they came in (the
    manual order when listed by position); a subtask whose parent is not among `tasks` (a
    filter left it out) stays where it was, not indented."""
    shown = {str(task.get("id")) for task in tasks}
    children: dict[str, list[Task]] = {}
    roots: list[Task] = []
    for task in tasks:
        parent = task.get("parent_id")
        if parent is not None and str(parent) in shown:
            children.setdefault(str(parent), []).append(task)
        else:
            roots.append(task)
    ordered: list[Task] = []

    def visit(task: Task, depth: int) -> None:
        if depth:
            task = {**task, "title": INDENT * depth + str(task.get("title", ""))}
        ordered.append(task)
        for child in children.get(str(task.get("id")), []):
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    return ordered
