"""The statements of subtasks and manual order: a task's subtree deleted with it, a task
placed among new siblings (its subtree following it into another list), a sibling group
renumbered, and the reads a placement checks first (the walk up from a parent, the height
of a subtree, the neighbours of a spot).

The deletion is one statement on PostgreSQL, as a plain task's was (statements.py explains
the counter's CTE), and a small transaction on SQLite; both forms sit in `run_delete`.
Placements run inside a transaction that has already taken the owner's number
(service: placement.py), so they are plain statements on both databases.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import fetch_all, in_transaction
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.statements import (
    NOW,
    OWNED,
    OWNER,
    TAKE_NUMBERS,
    TASK_COLUMNS,
    committed_meanwhile,
    subtree,
)

_TASK_ID = bindparam("task_id", type_=tasks.c.id.type)
_VERSIONS: BindParameter[Any] = bindparam("versions", expanding=True)


def _root(conditional: bool) -> ColumnElement[bool]:
    return and_(OWNED, tasks.c.version.in_(_VERSIONS)) if conditional else OWNED


# A tombstone keeps where its task was, for a CalDAV collection's sync report (dav/).
_PLACE = (tasks.c.list_id.label("gone_list_id"), tasks.c.dav_name.label("gone_dav_name"))


@cache
def _delete_postgresql(conditional: bool, children: bool = False) -> Any:
    """WITH RECURSIVE subtree, seq (the counter moved on by the subtree's size), gone
    (DELETE ... RETURNING) INSERT the tombstones, numbered from the counter's old value on.
    The DELETE's WHERE reads the counter first, as every write does (statements.py). Under
    If-Match the root's version is checked again on its row, so a concurrent write that
    changed it wins, as for a plain task. Each row also says whether the walk down the tree
    may have missed a subtask made meanwhile (`committed_meanwhile`). With `children`, the
    subtrees under `task_id` (a deleted task's late subtasks) instead."""
    root = and_(tasks.c.parent_id == _TASK_ID, tasks.c.user_id == OWNER)
    tree = subtree(root if children else _root(conditional))
    size = select(func.count()).select_from(tree).scalar_subquery()
    sequence = (
        postgresql.insert(change_counters)
        .values(user_id=OWNER, last_seq=size)
        .on_conflict_do_update(
            index_elements=[change_counters.c.user_id],
            set_={"last_seq": change_counters.c.last_seq + size},
        )
        .returning(change_counters.c.last_seq)
        .cte("seq")
    )
    last = select(sequence.c.last_seq).scalar_subquery()
    still: ColumnElement[bool] = (
        or_(tasks.c.id != _TASK_ID, tasks.c.version.in_(_VERSIONS))
        if conditional
        else literal(True)
    )
    gone = (
        tasks.delete()
        .where(
            tasks.c.id.in_(select(tree.c.id)),
            tasks.c.user_id == OWNER,
            still,
            last.is_not(None),
        )
        .returning(tasks.c.id, tasks.c.user_id, *_PLACE)
        .cte("gone")
    )
    numbered = last + 1 - func.row_number().over(order_by=gone.c.id)
    record = insert(tombstones).from_select(
        ["user_id", "seq", "task_id", "deleted_at", "list_id", "dav_name"],
        select(gone.c.user_id, numbered, gone.c.id, NOW, gone.c.gone_list_id, gone.c.gone_dav_name),
    )
    late = committed_meanwhile(last, size).label("late")
    return record.returning(tombstones.c.task_id, late).add_cte(sequence).add_cte(gone)


@cache
def _delete_sqlite(conditional: bool) -> Any:
    tree = subtree(_root(conditional))
    return tasks.delete().where(tasks.c.id.in_(select(tree.c.id))).returning(tasks.c.id, *_PLACE)


_BUMP_ONE = {"by": 1}
# A deletion's late subtasks are looked for at most this many times; more would take that
# many subtasks made under them, each in the instant before the statement before committed.
_LATE_ROUNDS = 3
_TOMBSTONE = insert(tombstones).values(
    user_id=OWNER,
    seq=bindparam("seq"),
    task_id=bindparam("gone_id"),
    deleted_at=NOW,
    list_id=bindparam("gone_list_id", type_=tasks.c.list_id.type),
    dav_name=bindparam("gone_dav_name"),
)


async def run_delete(
    connection: AsyncConnection, params: dict[str, Any], *, conditional: bool, safe_to_repeat: bool
) -> list[Any]:
    """Delete the owner's task `task_id` (at `versions` when `conditional`) and its
    subtasks, each leaving a tombstone; the deleted ids (none: no such task of the owner).
    SQLite: the counter's bump, the DELETE, the tombstones (the counter moves on once more
    for a subtree of several), in one transaction."""
    if connection.dialect.name == "postgresql":
        statement = _delete_postgresql(conditional)
        rows = await fetch_all(connection, statement, params, safe_to_repeat=safe_to_repeat)
        gone = [row[0] for row in rows]
        # Subtasks made while the statement waited for the counter: deleted now, in a
        # statement that sees them (once the task is gone, no new one can be made under it).
        for _attempt in range(_LATE_ROUNDS):
            if not (rows and rows[0].late):
                break
            late = _delete_postgresql(False, children=True)
            rows = await fetch_all(connection, late, params, safe_to_repeat=True)
            gone += [row[0] for row in rows]
        return gone
    async with in_transaction(connection):
        owner = {"owner": params["owner"]}
        first = await connection.scalar(TAKE_NUMBERS["sqlite"], {**owner, **_BUMP_ONE})
        deleted = (await connection.execute(_delete_sqlite(conditional), params)).all()
        if len(deleted) > 1:
            await connection.scalar(TAKE_NUMBERS["sqlite"], {**owner, "by": len(deleted) - 1})
        if deleted:
            await connection.execute(
                _TOMBSTONE,
                [
                    {
                        **owner,
                        "now": params["now"],
                        "seq": first + number,
                        "gone_id": row.id,
                        "gone_list_id": row.gone_list_id,
                        "gone_dav_name": row.gone_dav_name,
                    }
                    for number, row in enumerate(deleted)
                ],
            )
        return [row.id for row in deleted]


# The placement of one task, inside the transaction that took its number `version`.
PLACE_TASK = (
    tasks.update()
    .where(OWNED)
    .values(
        list_id=bindparam("new_list_id"),
        parent_id=bindparam("new_parent_id"),
        position=bindparam("new_position"),
        version=bindparam("version"),
        updated_at=NOW,
    )
    .returning(*TASK_COLUMNS)
)
# A new task whose number and position the transaction chose (a subtask: placement.py).
INSERT_NUMBERED = tasks.insert().returning(*TASK_COLUMNS)
# Its subtasks follow it into its new list, numbered as it is.
_DESCENDANTS = subtree(OWNED)
RELIST_DESCENDANTS = (
    tasks.update()
    .where(
        tasks.c.id.in_(select(_DESCENDANTS.c.id).where(_DESCENDANTS.c.depth > 1)),
        tasks.c.user_id == OWNER,
        tasks.c.list_id != bindparam("new_list_id"),
    )
    .values(list_id=bindparam("new_list_id"), version=bindparam("version"), updated_at=NOW)
)


async def relist_late_followers(connection: AsyncConnection, params: dict[str, Any]) -> None:
    """After a task's one-statement move to another list (statements.update_task) that may
    have missed a subtask made meanwhile: its subtasks still in another list follow it now,
    in a transaction with a number of its own."""
    async with in_transaction(connection):
        number = await connection.scalar(
            TAKE_NUMBERS[connection.dialect.name], {"owner": params["owner"], **_BUMP_ONE}
        )
        relisted = {key: params[key] for key in ("owner", "task_id", "new_list_id", "now")}
        await connection.execute(RELIST_DESCENDANTS, {**relisted, "version": number})


# A sibling group renumbered in order (each task a change in sync).
RENUMBER = (
    tasks.update()
    .where(tasks.c.id == bindparam("sibling_id"), tasks.c.user_id == OWNER)
    .values(position=bindparam("new_position"), version=bindparam("version"), updated_at=NOW)
)

# The walk up from one of the owner's tasks: it and its ancestors, nearest first (depth 1
# is the task), with their lists. Capped, so a cycle could never loop.
_up = (
    select(tasks.c.id, tasks.c.parent_id, tasks.c.list_id, literal(1).label("depth"))
    .where(OWNED)
    .cte("up", recursive=True)
)
_parent = tasks.alias("parent")
_up = _up.union_all(
    select(_parent.c.id, _parent.c.parent_id, _parent.c.list_id, _up.c.depth + 1).where(
        _parent.c.id == _up.c.parent_id, _parent.c.user_id == OWNER, _up.c.depth < 10
    )
)
# How many levels the owner's task `moved_id` and its subtasks span (1: none; NULL: no
# such task), read with the walk up from its new parent: one round trip for both.
_down = subtree(
    and_(tasks.c.id == bindparam("moved_id", type_=tasks.c.id.type), tasks.c.user_id == OWNER),
    "down",
)
_height = select(func.max(_down.c.depth)).scalar_subquery().label("moved_height")
ANCESTRY = select(_up.c.id, _up.c.list_id, _height).order_by(_up.c.depth)


def _siblings(*conditions: ColumnElement[bool]) -> Select[Any]:
    """The new siblings of the moved task `task_id` in order: same list, same parent."""
    return (
        select(tasks.c.id, tasks.c.position)
        .where(
            tasks.c.user_id == OWNER,
            tasks.c.list_id == bindparam("list_id", type_=tasks.c.list_id.type),
            tasks.c.parent_id.is_not_distinct_from(
                bindparam("parent_id", type_=tasks.c.parent_id.type)
            ),
            tasks.c.id != _TASK_ID,
            *conditions,
        )
        .order_by(tasks.c.position, tasks.c.id)
    )


SIBLINGS = _siblings()
FIRST_SIBLING = SIBLINGS.limit(1)
# The owner's task `after_id` (where the moved task `task_id` should follow it) and the key
# of the sibling right after it, but the moved task: one round trip for both.
_anchor = tasks.alias("anchor")
_following = (
    select(tasks.c.position)
    .where(
        tasks.c.user_id == OWNER,
        tasks.c.list_id == _anchor.c.list_id,
        tasks.c.parent_id.is_not_distinct_from(_anchor.c.parent_id),
        tasks.c.id != _TASK_ID,
        tuple_(tasks.c.position, tasks.c.id) > tuple_(_anchor.c.position, _anchor.c.id),
    )
    .order_by(tasks.c.position, tasks.c.id)
    .limit(1)
    .correlate(_anchor)
    .scalar_subquery()
)
AFTER_SIBLING = select(
    _anchor.c.list_id,
    _anchor.c.parent_id,
    _anchor.c.position,
    _following.label("next_position"),
).where(_anchor.c.id == bindparam("after_id", type_=tasks.c.id.type), _anchor.c.user_id == OWNER)
