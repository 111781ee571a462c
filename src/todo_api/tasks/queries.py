"""The task reads: one task, a page of the list, the tag counts, the changes since a token
(lists' changes included).

Each is one statement, built once with bound parameters; where the dialects differ (the tag
filter and the tag counts), both forms sit side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Select,
    SmallInteger,
    TextClause,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    union_all,
)

from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.lists.statements import LIST_COLUMNS
from todo_api.tasks.models import TagArray
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import TaskSort
from todo_api.tasks.statements import OWNED, TASK_COLUMNS

GET_TASK = select(*TASK_COLUMNS).where(OWNED)
# After a miss: whose the task is, and (for a write repeated after a lost connection) the
# state it is in. The task's columns come first, as a task's response expects.
# And the local time of a recurring task's occurrences (tasks/recurring.py).
FIND_TASK = select(
    *TASK_COLUMNS, tasks.c.user_id.label("owner"), tasks.c.recurrence_local_time
).where(tasks.c.id == bindparam("task_id"))

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
    "due_at": tasks.c.due_at,
    "priority": tasks.c.priority,
    # Compared by code point on both databases (the column's collation, models.py).
    "position": tasks.c.position,
}

Keyset = Literal["value", "null"]


def _carries_every_tag(dialect: str) -> ColumnElement[bool]:
    wanted = bindparam("tags", type_=TagArray)
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
    dialect: str, shape: tuple[bool | None, ...], sort: TaskSort, after: Keyset | None
) -> tuple[Select[Any], Select[Any]]:
    """The page query (with its total) and the plain count query.

    With a cursor (`after`: where the previous page's last row sits) the page starts after
    that row in the sort order (keyset), so rows inserted or deleted before it never shift
    the page. The total then cannot be a window count (that counts only the rows after the
    cursor): it is a scalar count of the same filters, still in the one statement, and the
    page reads one row more than it returns to tell whether another page follows.
    """
    by_completion, searching, by_priority, by_tags, due_before, due_after, by_list, *placement = (
        shape
    )
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
    if by_list:
        conditions.append(tasks.c.list_id == bindparam("list_id", type_=tasks.c.list_id.type))
    by_parent, top_level = placement
    conditions.extend(_placement_conditions(bool(by_parent), top_level))
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


def _placement_conditions(by_parent: bool, by_level: bool | None) -> list[ColumnElement[bool]]:
    """`parent_id` and `top_level` (the shape carries top_level's value: false lists the
    subtasks only)."""
    conditions: list[ColumnElement[bool]] = []
    if by_parent:
        parent = bindparam("parent_id", type_=tasks.c.parent_id.type)
        conditions.append(tasks.c.parent_id == parent)
    if by_level is not None:
        conditions.append(
            tasks.c.parent_id.is_(None) if by_level else tasks.c.parent_id.is_not(None)
        )
    return conditions


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


# What a row of the changes statement is.
TASK, TASK_DELETED, LIST, LIST_DELETED = range(4)


def _kind(number: int) -> Any:
    return literal_column(str(number), SmallInteger).label("kind")


def _blanks(columns: Sequence[Any], prefix: str = "") -> list[Any]:
    # NULLs typed as the columns they stand for, so the union's first branch gives every
    # column its type (SQLite's timestamps need theirs to come back in UTC).
    return [type_coerce(null(), column.type).label(prefix + column.key) for column in columns]


@cache
def changes_statement(with_deletions: bool) -> Executable:
    """The changes after (:since, :after_id), at most :limit_plus_one, with the counter's
    value and whether the owner has a default list (why that never misses a change:
    changes.py). Columns: high_water, has_default_list, seq, kind, id, the rest of a task's
    (`TASK_COLUMNS`), the rest of a list's (`LIST_COLUMNS`, named `list_...`); a row fills
    those of its kind, the rest are NULL."""
    owner: BindParameter[str] = bindparam("owner")
    position = tuple_(bindparam("since"), bindparam("after_id", type_=tasks.c.id.type))
    task_rest, list_rest = TASK_COLUMNS[1:], LIST_COLUMNS[1:]
    no_task, no_list = _blanks(task_rest), _blanks(list_rest, "list_")
    changed = select(tasks.c.version.label("seq"), _kind(TASK), tasks.c.id, *task_rest, *no_list)
    changed_lists = select(
        task_lists.c.version,
        _kind(LIST),
        task_lists.c.id,
        *no_task,
        *(column.label(f"list_{column.key}") for column in list_rest),
    )
    branches: list[Any] = [
        changed.where(tasks.c.user_id == owner, tuple_(tasks.c.version, tasks.c.id) > position),
        changed_lists.where(
            task_lists.c.user_id == owner,
            tuple_(task_lists.c.version, task_lists.c.id) > position,
        ),
    ]
    if with_deletions:
        for table, gone_id, kind in (
            (tombstones, tombstones.c.task_id, TASK_DELETED),
            (list_tombstones, list_tombstones.c.list_id, LIST_DELETED),
        ):
            removed = select(table.c.seq, _kind(kind), gone_id, *no_task, *no_list)
            branches.append(
                removed.where(table.c.user_id == owner, tuple_(table.c.seq, gone_id) > position)
            )
    every = union_all(*branches).subquery("changes")
    page = (
        select(every)
        .order_by(every.c.seq, every.c.id)
        .limit(bindparam("limit_plus_one"))
        .subquery("page")
    )
    high_water = (
        select(change_counters.c.last_seq).where(change_counters.c.user_id == owner)
    ).scalar_subquery()
    has_default = exists().where(task_lists.c.user_id == owner, task_lists.c.is_default)
    counter = select(
        high_water.label("high_water"), has_default.label("has_default_list")
    ).subquery("counter")
    # Outer-joined to a one-row counter, so an empty page still reads the counter, in the
    # same snapshot as the page.
    return (
        select(counter.c.high_water, counter.c.has_default_list, page)
        .select_from(counter.outerjoin(page, true()))
        .order_by(page.c.seq, page.c.id)
    )
