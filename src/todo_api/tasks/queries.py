"""The task reads: one task, a page of the list, the tag counts, the changes since a token.

Each is one statement, built once with bound parameters; where the dialects differ (the tag
filter and the tag counts), both forms sit side by side.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Select,
    TextClause,
    and_,
    bindparam,
    false,
    func,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
)

from todo_api.tasks.models import TagList
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import TaskSort
from todo_api.tasks.statements import OWNED, TASK_COLUMNS

GET_TASK = select(*TASK_COLUMNS).where(OWNED)
# After a miss: whose the task is, and (for a write repeated after a lost connection) the
# state it is in. The task's columns come first, as a task's response expects.
FIND_TASK = select(*TASK_COLUMNS, tasks.c.user_id.label("owner")).where(
    tasks.c.id == bindparam("task_id")
)

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
    "due_at": tasks.c.due_at,
    "priority": tasks.c.priority,
}

Keyset = Literal["value", "null"]


def _carries_every_tag(dialect: str) -> ColumnElement[bool]:
    wanted = bindparam("tags", type_=TagList)
    if dialect == "postgresql":
        # `tags @> :tags` is what the GIN index on tags serves.
        return tasks.c.tags.contains(wanted)
    # SQLite: none of the wanted tags is missing from the task's JSON array.
    wanted_tags = func.json_each(wanted).table_valued("value").alias("wanted")
    carried = func.json_each(tasks.c.tags).table_valued("value").alias("carried")
    missing = select(wanted_tags.c.value).where(
        wanted_tags.c.value.not_in(select(carried.c.value).scalar_subquery())
    )
    return ~missing.exists()


@cache
def list_statements(
    dialect: str, shape: tuple[bool, ...], sort: TaskSort, after: Keyset | None
) -> tuple[Select[Any], Select[Any]]:
    """The page query (with its total) and the plain count query.

    With a cursor (`after`: where the previous page's last row sits) the page starts after
    that row in the sort order (keyset), so rows inserted or deleted before it never shift
    the page. The total then cannot be a window count (that counts only the rows after the
    cursor): it is a scalar count of the same filters, still in the one statement, and the
    page reads one row more than it returns to tell whether another page follows.
    """
    by_completion, searching, by_priority, by_tags, due_before, due_after = shape
    conditions: list[ColumnElement[bool]] = [tasks.c.user_id == bindparam("owner")]
    if by_completion:
        conditions.append(tasks.c.completed == bindparam("completed"))
    if searching:
        pattern: BindParameter[str] = bindparam("pattern")
        conditions.append(
            tasks.c.title.ilike(pattern, escape="\\")
            | tasks.c.description.ilike(pattern, escape="\\")
        )
    if by_priority:
        conditions.append(tasks.c.priority.in_(bindparam("priorities", expanding=True)))
    if by_tags:
        conditions.append(_carries_every_tag(dialect))
    # A task without a due date matches neither bound: NULL compares to nothing.
    if due_before:
        conditions.append(tasks.c.due_at < bindparam("due_before"))
    if due_after:
        conditions.append(tasks.c.due_at >= bindparam("due_after"))
    key = _SORT_KEYS[sort.lstrip("-")]
    descending = sort.startswith("-")
    ordered = key.desc() if descending else key.asc()
    if key is tasks.c.due_at:
        # Tasks without a due date come last in both directions.
        ordered = ordered.nulls_last()
    # Ties are broken by id in the sort's direction, so pages are stable and a keyset
    # cursor can continue from (key, id).
    order = (ordered, tasks.c.id.desc() if descending else tasks.c.id.asc())
    count = select(func.count()).select_from(tasks).where(*conditions)
    if after is None:
        # The total rides along with the page as a window count: one round trip, not two.
        totals = [func.count().over().label("total")]
        page_conditions = conditions
    else:
        totals = [count.scalar_subquery().label("total")]
        page_conditions = [*conditions, _after_keyset(key, descending, after)]
    page = (
        select(*TASK_COLUMNS, *totals)
        .where(*page_conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return page, count


def _after_keyset(key: Any, descending: bool, after: Keyset) -> ColumnElement[bool]:
    """Rows after (:after_value, :after_id) in the order (key, id), both ascending or both
    descending; for due_at, NULL sorts after every date in both directions."""
    after_id = bindparam("after_id", type_=tasks.c.id.type)
    if after == "null":
        # Only undated rows remain, ordered by id.
        beyond_id = tasks.c.id < after_id if descending else tasks.c.id > after_id
        return and_(key.is_(None), beyond_id)
    after_value = bindparam("after_value", type_=key.type)
    position = tuple_(key, tasks.c.id)
    beyond = (
        position < tuple_(after_value, after_id)
        if descending
        else position > tuple_(after_value, after_id)
    )
    if key is tasks.c.due_at:
        return or_(beyond, key.is_(None))
    return beyond


# The caller's tags with counts, in code point order on both databases: SQLite compares
# text byte by byte (UTF-8, so by code point), and PostgreSQL does the same under "C".
TAG_COUNTS: dict[str, TextClause] = {
    "postgresql": text(
        "SELECT name, count(*) AS count FROM tasks, unnest(tasks.tags) AS name "
        'WHERE tasks.user_id = :owner GROUP BY name ORDER BY name COLLATE "C"'
    ),
    "sqlite": text(
        "SELECT tag.value AS name, count(*) AS count FROM tasks, json_each(tasks.tags) AS tag "
        "WHERE tasks.user_id = :owner GROUP BY tag.value ORDER BY tag.value"
    ),
}


@cache
def changes_statement(with_deletions: bool) -> Executable:
    """The changes after (:since, :after_id), at most :limit_plus_one, with the counter's
    value (why that never misses a change: changes.py). Columns: high_water, seq, deleted,
    then the task's own (`TASK_COLUMNS`, `id` first), NULL for a deletion."""
    task_columns = TASK_COLUMNS
    owner: BindParameter[str] = bindparam("owner")
    position = tuple_(bindparam("since"), bindparam("after_id", type_=tasks.c.id.type))
    changed = select(tasks.c.version.label("seq"), false().label("deleted"), *task_columns).where(
        tasks.c.user_id == owner, tuple_(tasks.c.version, tasks.c.id) > position
    )
    branches: list[Any] = [changed]
    if with_deletions:
        # Columns a tombstone does not have are NULL; the union takes the tasks' types.
        blanks = [null().label(column.key) for column in task_columns[1:]]
        removed = select(
            tombstones.c.seq, true().label("deleted"), tombstones.c.task_id.label("id"), *blanks
        ).where(
            tombstones.c.user_id == owner, tuple_(tombstones.c.seq, tombstones.c.task_id) > position
        )
        branches.append(removed)
    every = (
        union_all(*branches).subquery("changes") if with_deletions else changed.subquery("changes")
    )
    page = (
        select(every)
        .order_by(every.c.seq, every.c.id)
        .limit(bindparam("limit_plus_one"))
        .subquery("page")
    )
    high_water = (
        select(change_counters.c.last_seq).where(change_counters.c.user_id == owner)
    ).scalar_subquery()
    counter = select(high_water.label("high_water")).subquery("counter")
    # Outer-joined to a one-row counter, so an empty page still reads the counter, in the
    # same snapshot as the page.
    return (
        select(counter.c.high_water, page)
        .select_from(counter.outerjoin(page, true()))
        .order_by(page.c.seq, page.c.id)
    )
