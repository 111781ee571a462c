"""Where a task sits: its list, its parent and its place among its siblings.

The rules of subtasks and manual order, for `TaskService` (service.py):
- a parent is another of the owner's tasks, in the task's (new) list, neither the task nor
  one of its subtasks, and leaves at most MAX_LEVELS levels, counting the moved task's own
  subtasks; anything else is 422 naming `parent_id`, and nothing changes;
- a task placed without `after` goes after its last sibling, `after: null` before the
  first, `after: ID` right after that sibling (any other task is 422 naming `after`);
- a move across lists takes the task's subtasks along, each a change in sync;
- a move writes the moved task only (positions.py): where no key fits between two
  siblings, the sibling group is renumbered, each sibling a change in sync.

Every placement runs in a transaction that first takes the owner's change number: that
holds every other write of the owner until it ends, so what it reads (the parent's
ancestors, the neighbours) cannot change before it writes, and a concurrent move of the
same list waits for it and then places itself among the new positions: none is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from todo_api.errors import InvalidParameterError
from todo_api.tasks.conditions import PreconditionFailedError
from todo_api.tasks.positions import appended, between
from todo_api.tasks.recurring import rewrite_placed
from todo_api.tasks.repository import AnyRow, TaskRepository

# A task with three ancestors cannot have children.
MAX_LEVELS = 4
# Whether a field was given: `None` is a value here (top-level; first).
ABSENT = "absent"


def invalid_parent(reason: str) -> InvalidParameterError:
    return InvalidParameterError(["body", "parent_id"], reason, "parent_invalid")


def invalid_after() -> InvalidParameterError:
    return InvalidParameterError(
        ["body", "after"], "is not one of the task's new siblings", "after_invalid"
    )


@dataclass(frozen=True, slots=True)
class Move:
    """A placement asked for: each field a value or ABSENT."""

    list_id: uuid.UUID | str = ABSENT
    parent_id: uuid.UUID | str | None = ABSENT
    after: uuid.UUID | str | None = ABSENT
    # PATCH: a task already where it is asked to be stays as it is (no new position).
    keep_if_in_place: bool = False


class Placement:
    """Placements of the owner's tasks, inside the transaction that took `number`."""

    __slots__ = ("now", "number", "tasks")

    def __init__(self, tasks: TaskRepository, number: int, now: datetime) -> None:
        self.tasks = tasks
        self.number = number
        self.now = now

    async def parent_for_new_task(
        self, parent_id: uuid.UUID, list_id: uuid.UUID | None
    ) -> uuid.UUID:
        """The list a new subtask of `parent_id` goes into (the parent's)."""
        return await self._parent(parent_id, list_id, moving=None)

    async def move(
        self, found: AnyRow, move: Move, versions: tuple[int, ...] | None
    ) -> AnyRow | None:
        """Place `found` (the owner's task as the transaction read it); its new row, or
        None when it stays as it is."""
        if versions is not None and int(str(found.etag).strip('"')) not in versions:
            raise PreconditionFailedError()
        list_id, parent_id = await self._target(found, move)
        if (
            move.keep_if_in_place
            and list_id == found.list_id
            and parent_id == found.parent_id
            and move.after == ABSENT
        ):
            return None
        position, renumber_from = await self._position(found.id, list_id, parent_id, move.after)
        row = await self.tasks.place(
            found.id,
            list_id,
            parent_id,
            position,
            version=self.number,
            now=self.now,
            into_list=list_id != found.list_id,
        )
        if list_id != found.list_id:
            await self.tasks.relist_descendants(found.id, list_id, self.number, self.now)
        if renumber_from == ABSENT:
            return row
        await self._renumber(found.id, list_id, parent_id, renumber_from)
        return await self.tasks.get(found.id)

    async def _target(self, found: AnyRow, move: Move) -> tuple[uuid.UUID, uuid.UUID | None]:
        """The (list, parent) the task goes to."""
        list_id = found.list_id if move.list_id == ABSENT else move.list_id
        assert isinstance(list_id, uuid.UUID)
        if isinstance(move.parent_id, uuid.UUID):
            given_list = None if move.list_id == ABSENT else list_id
            parent_list = await self._parent(move.parent_id, given_list, moving=found)
            return parent_list, move.parent_id
        if move.parent_id is None or list_id != found.list_id:
            # Top-level: asked for, or a task moved alone into another list.
            return list_id, None
        return list_id, found.parent_id

    async def _parent(
        self, parent_id: uuid.UUID, list_id: uuid.UUID | None, *, moving: AnyRow | None
    ) -> uuid.UUID:
        """The checked parent's list."""
        chain = await self.tasks.ancestry(parent_id, None if moving is None else moving.id)
        if not chain:
            raise invalid_parent("is not one of your tasks")
        parent_list: uuid.UUID = chain[0].list_id
        if list_id is not None and list_id != parent_list:
            raise invalid_parent("is in another list than the one given")
        if moving is not None and any(row.id == moving.id for row in chain):
            raise invalid_parent("is the task itself or one of its subtasks")
        height = chain[0].moved_height or 1
        if len(chain) + height > MAX_LEVELS:
            raise invalid_parent(f"would make more than {MAX_LEVELS} levels of tasks")
        return parent_list

    async def _position(
        self,
        task_id: uuid.UUID,
        list_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        after: uuid.UUID | str | None,
    ) -> tuple[str, uuid.UUID | str | None]:
        """The task's new key, and, when no key fits, where the renumbered group puts it
        (the id it follows, None for first; ABSENT: nothing to renumber)."""
        last = appended(self.number)
        group = (list_id, parent_id, task_id)
        if after == ABSENT:
            return last, ABSENT
        if after is None:
            first = await self.tasks.first_sibling(*group)
            if first is None:
                return last, ABSENT
            key = between(None, first.position)
            return (last, None) if key is None else (key, ABSENT)
        assert isinstance(after, uuid.UUID)
        anchor = await self.tasks.after_sibling(task_id, after)
        if (
            anchor is None
            or after == task_id
            or anchor.list_id != list_id
            or anchor.parent_id != parent_id
        ):
            raise invalid_after()
        if anchor.next_position is None:
            # After the last sibling: the appended key, which sorts after every other.
            return last, ABSENT
        key = between(anchor.position, anchor.next_position)
        return (last, after) if key is None else (key, ABSENT)

    async def _renumber(
        self,
        task_id: uuid.UUID,
        list_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        after: uuid.UUID | str | None,
    ) -> None:
        """The sibling group in its order, the moved task right after `after` (first for
        None), each given the appended key of a number of its own."""
        order = [row.id for row in await self.tasks.siblings(list_id, parent_id, task_id)]
        order.insert(0 if after is None else order.index(after) + 1, task_id)
        last = await self.tasks.take_numbers(len(order))
        first = last - len(order) + 1
        await self.tasks.renumber(
            [(sibling, appended(first + n), first + n) for n, sibling in enumerate(order)],
            self.now,
        )


async def create_subtask(
    tasks: TaskRepository,
    values: dict[str, Any],
    parent_id: uuid.UUID,
    list_id: uuid.UUID | None,
    now: datetime,
) -> AnyRow:
    """In a transaction: a new task of `values` under `parent_id`, in its list (`list_id`,
    when given, must be that one), after its other subtasks."""
    number = await tasks.take_numbers(1)
    placement = Placement(tasks, number, now)
    values["list_id"] = await placement.parent_for_new_task(parent_id, list_id)
    values.update(parent_id=parent_id, version=number, position=appended(number))
    row = await tasks.insert_numbered(values)
    assert row is not None, "an insert returns its row"
    return row


async def place(
    tasks: TaskRepository,
    task_id: uuid.UUID,
    move: Move,
    versions: tuple[int, ...] | None,
    now: datetime,
    missing: Callable[[AnyRow | None], Exception],
    then: dict[str, Any] | None = None,
) -> AnyRow:
    """In a transaction: place the owner's task (`missing` tells why it is not there), then
    (a PATCH) change `then`'s other fields; the task's row."""
    number = await tasks.take_numbers(1)
    found = await tasks.find(task_id)
    if found is None or found.owner != tasks.owner:
        raise missing(found)
    row = await Placement(tasks, number, now).move(found, move, versions) or found
    if then:
        content = dict(then)
        completed = content.pop("completed", None)
        row = await rewrite_placed(tasks, task_id, content, completed, now) or row
    return row
