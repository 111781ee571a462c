"""The rules of recurring tasks in writes: what TaskService asks of a PUT, PATCH or toggle.

Completing an open recurring task moves its `due_at` to the next occurrence instead (and
counts COUNT down), which takes the rule in Python (occurrences.py), so it cannot be the one
statement a write of a plain task is. How each write goes:

- A plain task's write stays one statement (one round trip on PostgreSQL): the statements
  that could complete, or move the due date of, a recurring task carry `NOT_RECURRING`
  (tasks/statements.py) and so match only tasks without a recurrence.
- When such a statement matches nothing, the one look-up that tells 404 from 403 from 412
  (`TaskRepository.find`) also returns the task's rule, and the change is computed from
  that row and written by a compare-and-set: an update under the version just read
  (`rewrite`). A completion of a recurring task is so three statements, in autocommit,
  with no transaction held across them: 3 round trips on PostgreSQL against 1 for a plain
  task (tests/test_recurrence_round_trips.py); bench/recurrence.py on the shared 2-core
  machine, medians: 17 ms wall and 5.3 ms CPU per completion against 8.1 ms and 2.4 ms for
  a plain toggle, of which the next occurrence itself is 0.2 ms. Should another write come
  in between, the compare-and-set matches nothing and the change is computed again from the
  new row: two concurrent completions advance the task twice, neither is lost; an
  `If-Match` then no longer matches (412), as for any other write.
- A PATCH that gives a recurrence but no due_at, or a recurrence with `completed: true`,
  needs the stored task from the start and goes to `rewrite` directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from todo_api.errors import DatabaseContentionError, InvalidParameterError
from todo_api.tasks.conditions import IfMatch
from todo_api.tasks.occurrences import has_occurrence, local_time_of, next_due
from todo_api.tasks.recurrence import Recurrence, counted_down, recurrence_columns
from todo_api.tasks.repository import AnyRow, TaskRepository

__all__ = ["TaskWrite", "check_recurrence", "columns_of", "rewrite", "rewrite_placed", "toggle"]
# The service's answer to a row that does not do: 404, 403 or 412 (TaskService._missing).
Missing = Callable[[AnyRow | None, IfMatch | None], Exception]

# Compare-and-set attempts before the write gives up as contended (503, Retry-After). Each
# miss means another write of the task succeeded meanwhile, so the attempts only run out
# under more concurrent writes of one task than any client makes (15 at once all succeed:
# tests/test_recurrence_completion.py); each attempt is two round trips.
ATTEMPTS = 64


def _no_occurrence() -> InvalidParameterError:
    return InvalidParameterError(
        ["body", "recurrence", "rule"],
        "has no occurrence at or after the task's due_at",
        "recurrence_without_occurrence",
    )


def _needs_due_at(loc: str) -> InvalidParameterError:
    return InvalidParameterError(
        ["body", loc], "a recurring task needs a due_at, its first occurrence", "due_at_missing"
    )


def check_recurrence(recurrence: Recurrence | None, due_at: datetime | None) -> None:
    """A recurrence sent with the due date it starts at (a POST, or a write giving both)."""
    if recurrence is None:
        return
    if due_at is None:
        raise _needs_due_at("recurrence")
    if not has_occurrence(recurrence.rule, recurrence.time_zone, due_at):
        raise _no_occurrence()


def columns_of(recurrence: Recurrence | None, due_at: datetime | None) -> dict[str, Any]:
    """The storage columns of a recurrence starting at `due_at` (checked before)."""
    if recurrence is None or due_at is None:
        return recurrence_columns(None, None)
    return recurrence_columns(recurrence, local_time_of(due_at, recurrence.time_zone))


@dataclass(frozen=True, slots=True)
class TaskWrite:
    """A PUT, PATCH or toggle, as TaskService runs it: `columns` to set (a recurrence as its
    storage columns), `completed` to set (None: as it is), or a toggle."""

    columns: dict[str, Any]
    completed: bool | None = None
    toggle: bool = False
    # The recurrence the request gives (a null included), or absent: the task's own.
    recurrence: Recurrence | None = None
    sends_recurrence: bool = False
    # Which way the one-statement form goes (the module's docstring).
    needs_the_row: bool = False
    only_if_not_recurring: bool = False

    @property
    def due_at_sent(self) -> bool:
        return "due_at" in self.columns

    @classmethod
    def of(cls, fields: dict[str, Any], completed: bool | None) -> TaskWrite:
        """A PUT's or PATCH's fields (the body's, with `completed` taken out)."""
        columns = dict(fields)
        if "recurrence" not in columns:
            guarded = "due_at" in columns or completed is True
            return cls(columns, completed, only_if_not_recurring=guarded)
        sent = columns.pop("recurrence")
        recurrence = None if sent is None else Recurrence.model_validate(sent)
        if recurrence is None:
            columns.update(recurrence_columns(None, None))
        elif "due_at" in columns:
            check_recurrence(recurrence, columns["due_at"])
            columns.update(columns_of(recurrence, columns["due_at"]))
        return cls(
            columns,
            completed,
            recurrence=recurrence,
            sends_recurrence=True,
            needs_the_row=recurrence is not None and ("due_at" not in columns or completed is True),
        )

    async def run(
        self,
        tasks: TaskRepository,
        task_id: uuid.UUID,
        now: datetime,
        if_match: IfMatch | None,
        missing: Missing,
        safe_to_repeat: bool,
    ) -> AnyRow | None:
        """The PUT or PATCH: one statement, or from the task's row where it needs one; its
        row, or None when the task is not there to write (the service tells why)."""
        row = None
        if not self.needs_the_row:
            row = await tasks.update(
                task_id,
                self.columns,
                self.completed,
                now=now,
                versions=None if if_match is None else if_match.versions,
                safe_to_repeat=safe_to_repeat,
                only_if_not_recurring=self.only_if_not_recurring,
            )
        if row is None and (self.needs_the_row or self.only_if_not_recurring):
            row = await rewrite(tasks, task_id, self, now, if_match, missing)
        return row


_TOGGLE = TaskWrite({}, toggle=True)


async def toggle(
    tasks: TaskRepository,
    task_id: uuid.UUID,
    now: datetime,
    if_match: IfMatch | None,
    missing: Missing,
) -> AnyRow:
    """A toggle whose one statement matched nothing: the task is missing (404, 403, 412),
    was toggled by this request's earlier run, or is an open recurring task to advance."""
    return await rewrite(tasks, task_id, _TOGGLE, now, if_match, missing)


async def rewrite(
    tasks: TaskRepository,
    task_id: uuid.UUID,
    write: TaskWrite,
    now: datetime,
    if_match: IfMatch | None,
    missing: Missing,
) -> AnyRow:
    """Apply `write` from the task's current row, by compare-and-set (the module's
    docstring); `missing` is the service's 404 / 403 / 412 for a row that does not do."""
    versions = None if if_match is None else if_match.versions
    for _attempt in range(ATTEMPTS):
        found = await tasks.find(task_id)
        if found is None or found.owner != tasks.owner:
            raise missing(found, if_match)
        if found.updated_at == now:
            # This request's own write (`now` is its own to the microsecond), applied by a
            # run whose answer was lost.
            return found
        version = int(str(found.etag).strip('"'))
        if versions is not None and version not in versions:
            raise missing(found, if_match)
        columns, completed = _change(found, write, now)
        row = await tasks.update(
            task_id, columns, completed, now=now, versions=(version,), safe_to_repeat=True
        )
        if row is not None:
            return row
    raise DatabaseContentionError()


async def rewrite_placed(
    tasks: TaskRepository,
    task_id: uuid.UUID,
    fields: dict[str, Any],
    completed: bool | None,
    now: datetime,
) -> AnyRow | None:
    """A PATCH's other fields, applied inside the transaction that has just placed the task
    (placement.py): under the same rules as any write (a recurrence checked against its due
    date, a completion that advances a recurring task), from the row as placed. Its own
    transaction already holds the task, so no compare-and-set is needed."""
    found = await tasks.find(task_id)
    if found is None:
        return None
    columns, completed = _change(found, TaskWrite.of(fields, completed), now)
    return await tasks.update(
        task_id, columns, completed, now=now, versions=None, safe_to_repeat=False
    )


def _change(found: AnyRow, write: TaskWrite, now: datetime) -> tuple[dict[str, Any], bool | None]:
    """The columns and `completed` that `write` sets on the task as `found`."""
    columns = dict(write.columns)
    recurrence = write.recurrence
    if not write.sends_recurrence and found.recurrence is not None:
        recurrence = Recurrence.model_validate(found.recurrence)
    due_at = columns["due_at"] if write.due_at_sent else found.due_at
    local_time = found.recurrence_local_time
    if recurrence is not None:
        if due_at is None:
            raise _needs_due_at("recurrence" if write.sends_recurrence else "due_at")
        if write.sends_recurrence or write.due_at_sent:
            # A new rule or a new first occurrence: checked, and its local time kept.
            if not has_occurrence(recurrence.rule, recurrence.time_zone, due_at):
                raise _no_occurrence()
            columns.update(columns_of(recurrence, due_at))
            local_time = columns["recurrence_local_time"]
    completed = (not found.completed) if write.toggle else write.completed
    if completed is True and not found.completed and recurrence is not None:
        following = next_due(
            recurrence.rule, recurrence.time_zone, recurrence.from_, due_at, now, local_time
        )
        if following is not None:
            columns["due_at"] = following
            counted = recurrence.model_copy(update={"rule": counted_down(recurrence.rule)})
            columns.update(recurrence_columns(counted, local_time))
            completed = False
    return columns, completed
