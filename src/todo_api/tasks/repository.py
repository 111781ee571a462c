"""`TaskRepository`: one user's tasks over one connection, every statement scoped by owner.

Each operation is one SQL statement on PostgreSQL, so concurrent writers cannot lose each
other's changes and, on the autocommit connection of `Database.connect()`, each costs one
round trip. A second query runs only after a miss, to tell "someone else's task" (403) from
"no task" (404) from "not the version If-Match names" (412). Statements are built once, with
bound parameters: building SQLAlchemy constructs per request costs more than running them.

Every write also takes the next number of its owner's change sequence (`change_counters`)
as the task's version, from which the ETag comes. On PostgreSQL the counter is bumped by a
CTE of the write itself: still one statement, and the counter row stays locked until the
statement commits, so each user's numbers commit in order (what incremental sync relies
on) and a task's version only grows. Every write reads the number before it touches a task
row, so all of them lock the counter first and then the row: the same order, no deadlock.
SQLite cannot write in a CTE: there the bump is a statement of its own, in one transaction
with the write (local, so the extra statement costs no round trip); SQLite's single writer
gives the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    Executable,
    Insert,
    Select,
    String,
    TextClause,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.database import UTCDateTime, fetch_all, in_transaction, utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.tasks.changes import TOMBSTONE_SQLITE, read_changes
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError
from todo_api.tasks.cursors import (
    Cursor,
    check_offset_with_cursor,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
    query_fingerprint,
)
from todo_api.tasks.models import TagArray
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as tombstones
from todo_api.tasks.models import tasks_table as tasks
from todo_api.tasks.schemas import (
    PRIORITY_RANKS,
    Priority,
    TagCount,
    TaskCreate,
    TaskPageRows,
    TaskRead,
    TaskReplace,
    TaskSort,
)
from todo_api.tasks.sync_tokens import decode_sync_token, encode_sync_token

# The ETag is computed by the database with the row, so that the list page, rendered
# straight from rows, carries it with no work per row in Python.
_QUOTE = literal_column("'\"'", String)
_ETAG = (_QUOTE + cast(tasks.c.version, String) + _QUOTE).label("etag")
_TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.priority,
    tasks.c.due_at,
    tasks.c.tags,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.completed_at,
    _ETAG,
)
_TASK_FIELDS = tuple(column.key for column in _TASK_COLUMNS)

_SORT_KEYS = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "title": tasks.c.title,
    "due_at": tasks.c.due_at,
    "priority": tasks.c.priority,
}

_NOW: BindParameter[Any] = bindparam("now", type_=UTCDateTime())
_OWNED: ColumnElement[bool] = and_(
    tasks.c.id == bindparam("task_id"), tasks.c.user_id == bindparam("owner")
)
# If-Match: the write applies only while the task is at one of the named versions. The
# condition is part of the statement that writes, so nothing can change in between; on
# PostgreSQL a row changed by a concurrent write is re-checked at its newest version.
_OWNED_AT_VERSION: ColumnElement[bool] = and_(
    _OWNED, tasks.c.version.in_(bindparam("versions", expanding=True))
)
_GET = select(*_TASK_COLUMNS).where(_OWNED)
# After a miss: whose the task is, and (for a write repeated after a lost connection) the
# state it is in. The task's columns come first, as `_to_read` expects.
_FOUND = select(*_TASK_COLUMNS, tasks.c.user_id.label("owner")).where(
    tasks.c.id == bindparam("task_id")
)

_BUMP_VALUES = {"user_id": bindparam("owner"), "last_seq": 1}
_BUMP_SET = {"last_seq": change_counters.c.last_seq + 1}
_SEQUENCE = (
    postgresql.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
    .cte("seq")
)
_BUMP_SQLITE = (
    sqlite.insert(change_counters)
    .values(_BUMP_VALUES)
    .on_conflict_do_update(index_elements=[change_counters.c.user_id], set_=_BUMP_SET)
    .returning(change_counters.c.last_seq)
)


def _next_version(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return select(_SEQUENCE.c.last_seq).scalar_subquery()
    return bindparam("version", type_=tasks.c.version.type)


def _versioned(dialect: str, statement: Insert | Update | Delete) -> Executable:
    """The write with the counter's CTE on PostgreSQL; as it is on SQLite."""
    if dialect == "postgresql":
        return statement.add_cte(_SEQUENCE)
    return statement


def _where(conditional: bool) -> ColumnElement[bool]:
    return _OWNED_AT_VERSION if conditional else _OWNED


@cache
def _insert_statement(dialect: str) -> Executable:
    insert = tasks.insert().values(version=_next_version(dialect)).returning(*_TASK_COLUMNS)
    return _versioned(dialect, insert)


@cache
def _toggle_statement(dialect: str, conditional: bool) -> Executable:
    # SET expressions read the row's old values, so concurrent toggles serialise on the row
    # lock and none is lost.
    toggle = (
        tasks.update()
        .where(_where(conditional))
        .values(
            completed=~tasks.c.completed,
            completed_at=case((tasks.c.completed, None), else_=_NOW),
            updated_at=_NOW,
            version=_next_version(dialect),
        )
        .returning(*_TASK_COLUMNS)
    )
    return _versioned(dialect, toggle)


@cache
def _delete_statement(dialect: str, conditional: bool) -> Executable:
    """DELETE that records a tombstone numbered from the owner's change counter (sync).

    PostgreSQL, one statement: WITH seq AS (bump the counter), gone AS (DELETE ... RETURNING)
    INSERT INTO task_tombstones SELECT ... FROM gone. The DELETE's WHERE reads the new number,
    so the counter row is locked before the task's row, the order every other write takes:
    a DELETE and an UPDATE of one task never wait for each other in opposite orders (a
    deadlock). SQLite: the plain DELETE; `delete` adds the tombstone in its transaction.
    """
    where = _where(conditional)
    if dialect != "postgresql":
        return tasks.delete().where(where).returning(tasks.c.id)
    number = select(_SEQUENCE.c.last_seq).scalar_subquery()
    gone = (
        tasks.delete()
        .where(where, number.is_not(None))
        .returning(tasks.c.id, tasks.c.user_id)
        .cte("gone")
    )
    record = insert(tombstones).from_select(
        ["user_id", "seq", "task_id", "deleted_at"],
        select(gone.c.user_id, number, gone.c.id, _NOW),
    )
    return record.returning(tombstones.c.task_id).add_cte(_SEQUENCE).add_cte(gone)


@cache
def _update_statement(
    dialect: str, fields: frozenset[str], completed: bool | None, conditional: bool
) -> Executable:
    values: dict[str, Any] = {field: bindparam(f"new_{field}") for field in sorted(fields)}
    values["updated_at"] = _NOW
    values["version"] = _next_version(dialect)
    # completed_at is the time of the latest change to completed: kept while a completed
    # task stays completed, set when it becomes completed, cleared otherwise.
    if completed is True:
        values["completed"] = True
        values["completed_at"] = func.coalesce(tasks.c.completed_at, _NOW)
    elif completed is False:
        values["completed"] = False
        values["completed_at"] = None
    update = tasks.update().where(_where(conditional)).values(values).returning(*_TASK_COLUMNS)
    return _versioned(dialect, update)


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    # A page's rows carry one more column (the total) after the task's own.
    return dict(zip(_TASK_FIELDS, row, strict=False))


def _to_read(row: Sequence[Any]) -> TaskRead:
    return TaskRead.model_validate(_fields(row))


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

    def shape(self) -> tuple[bool, ...]:
        """Which filters are in use: the statement differs only by these."""
        return (
            self.completed is not None,
            bool(self.query),
            bool(self.priorities),
            bool(self.tags),
            self.due_before is not None,
            self.due_after is not None,
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
        return params


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
def _list_statements(
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
        select(*_TASK_COLUMNS, *totals)
        .where(*page_conditions)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return page, count


Keyset = Literal["value", "null"]
AnyRow = Row[*tuple[Any, ...]]


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


def _query_fingerprint(filters: TaskFilters, sort: TaskSort) -> str:
    return query_fingerprint(
        {
            "sort": sort,
            "completed": filters.completed,
            "q": filters.query,
            "priority": sorted(filters.priorities),
            "tag": sorted(filters.tags),
            "due_before": _instant(filters.due_before),
            "due_after": _instant(filters.due_after),
        }
    )


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _sort_value(key: str, cursor: Cursor) -> Any:
    """The cursor's sort value as the column's Python type; 422 if it cannot be one."""
    value = cursor.sort_value
    try:
        if key in ("created_at", "updated_at", "due_at") and value is not None:
            moment = datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                raise ValueError
            return moment
    except ValueError:
        raise invalid_cursor() from None
    valid = {
        "title": isinstance(value, str),
        "priority": value in PRIORITY_RANKS,
        "due_at": value is None,
    }.get(key, False)
    if not valid:
        raise invalid_cursor()
    return value


# The caller's tags with counts, in code point order on both databases: SQLite compares
# text byte by byte (UTF-8, so by code point), and PostgreSQL does the same under "C".
_TAG_COUNTS: dict[str, TextClause] = {
    "postgresql": text(
        "SELECT name, count(*) AS count FROM tasks, unnest(tasks.tags) AS name "
        'WHERE tasks.user_id = :owner GROUP BY name ORDER BY name COLLATE "C"'
    ),
    "sqlite": text(
        "SELECT tag.value AS name, count(*) AS count FROM tasks, json_each(tasks.tags) AS tag "
        "WHERE tasks.user_id = :owner GROUP BY tag.value ORDER BY tag.value"
    ),
}


# Opens the connection a repository's statements run on, when the first one runs.
Connect = Callable[[], Awaitable[AsyncConnection]]


class TaskRepository:
    """The tasks of `owner`, on one connection (see todo_api.database) that is taken when the
    first statement runs: a request that fails before that (its body is invalid, say) never
    takes one, and answers as it should even while the database is down.

    A statement whose connection is lost under it runs once more on a fresh connection
    (`todo_api.database.execute`) when a second run is safe:
    - reads, always: they change nothing;
    - every write when `safe_to_repeat` (GET and HEAD requests, which write nothing);
    - an update (PUT, PATCH, toggle) under an If-Match naming versions: if the first run
      committed, the task has moved to a new version, so the second run matches nothing
      and cannot apply the change twice. It would then answer 412 for a write that
      succeeded, so that miss is recognised as the replay: the task still carries the
      `updated_at` the first run wrote, the request's own `now` (microseconds, taken once
      per request, so no other write has it), and is answered as the write's result. If
      another write changed the task in between, the answer is 412, which is also what the
      client's now stale ETag would get;
    - not `If-Match: *` (a toggle run twice toggles back), not a DELETE (a second run finds
      nothing and would answer 404 for a delete that succeeded, with no cheap way to tell),
      not a create: those stay one attempt and answer 503 if their connection is lost.
    A write under an Idempotency-Key runs in a transaction, where nothing is repeated per
    statement; the whole keyed transaction is repeated instead (tasks/responses.py).
    """

    __slots__ = ("_connect", "_connection", "dialect", "owner", "safe_to_repeat")

    def __init__(
        self, connect: Connect, dialect: str, owner: str, *, safe_to_repeat: bool = False
    ) -> None:
        self._connect = connect
        self._connection: AsyncConnection | None = None
        self.dialect = dialect
        self.owner = owner
        self.safe_to_repeat = safe_to_repeat

    @classmethod
    def on(
        cls, connection: AsyncConnection, owner: str, *, safe_to_repeat: bool = False
    ) -> TaskRepository:
        """The tasks of `owner` on a connection the caller already holds."""

        async def held() -> AsyncConnection:
            return connection

        return cls(held, connection.dialect.name, owner, safe_to_repeat=safe_to_repeat)

    async def connection(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await self._connect()
        return self._connection

    async def create(self, data: TaskCreate) -> TaskRead:
        now = utc_now()
        values = {
            "id": uuid.uuid4(),
            "user_id": self.owner,
            "title": data.title,
            "description": data.description,
            "completed": data.completed,
            "priority": data.priority,
            "due_at": data.due_at,
            "tags": data.tags,
            "created_at": now,
            "updated_at": now,
            "completed_at": now if data.completed else None,
        }
        row = await self._write(
            _insert_statement(self.dialect), values, safe_to_repeat=self.safe_to_repeat
        )
        assert row is not None, "an insert returns its row"
        return _to_read(row)

    async def get(self, task_id: uuid.UUID) -> TaskRead:
        params = {"owner": self.owner, "task_id": task_id}
        row = _first(await self._read(_GET, params))
        if row is None:
            raise self._missing(await self._found(task_id))
        return _to_read(row)

    async def page(
        self,
        *,
        limit: int,
        offset: int,
        filters: TaskFilters,
        sort: TaskSort,
        tokens: OpaqueTokens,
        cursor: str | None = None,
    ) -> TaskPageRows:
        key = sort.lstrip("-")
        params: dict[str, Any] = {
            "owner": self.owner,
            "limit": limit,
            "offset": offset,
            **filters.params(),
        }
        fingerprint: str | None = None
        after: Keyset | None = None
        if cursor is not None:
            check_offset_with_cursor(offset)
            fingerprint = _query_fingerprint(filters, sort)
            position = decode_cursor(tokens, self.owner, fingerprint, cursor)
            value = _sort_value(key, position)
            after = "null" if value is None else "value"
            params["after_value"] = value
            params["after_id"] = position.task_id
            # One row more than the page, to tell whether another page follows.
            params["limit"] = limit + 1
        page, count = _list_statements(self.dialect, filters.shape(), sort, after)
        rows = await self._read(page, params)
        more = False
        if after is not None:
            more = len(rows) > limit
            rows = rows[:limit]
        if rows:
            total = rows[0].total
            if after is None:
                more = offset + len(rows) < total
        elif offset == 0 and after is None:
            total = 0
        else:
            total = (await self._read(count, params))[0][0]
        items = [_fields(row) for row in rows]
        next_cursor = None
        if more:
            last = items[-1]
            fingerprint = fingerprint or _query_fingerprint(filters, sort)
            sort_value = last[key]
            if isinstance(sort_value, datetime):
                sort_value = sort_value.isoformat()
            next_cursor = encode_cursor(tokens, self.owner, fingerprint, sort_value, last["id"])
        return {
            "items": items,
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_cursor": next_cursor,
        }

    async def changes(
        self, tokens: OpaqueTokens, since: str | None, limit: int, keep_days: int
    ) -> dict[str, Any]:
        """`GET /tasks/changes`: a page of changes after the token `since` (changes.py)."""
        now = utc_now()
        position = (
            None
            if since is None
            else decode_sync_token(tokens, self.owner, since, now=now, keep_days=keep_days)
        )
        page, following = await read_changes(
            await self.connection(), self.owner, _TASK_COLUMNS, position, limit, now
        )
        return {**page, "next_since": encode_sync_token(tokens, self.owner, following)}

    async def tag_counts(self) -> list[TagCount]:
        rows = await self._read(_TAG_COUNTS[self.dialect], {"owner": self.owner})
        return [TagCount(name=row[0], count=row[1]) for row in rows]

    async def replace(
        self, task_id: uuid.UUID, data: TaskReplace, if_match: IfMatch | None = None
    ) -> TaskRead:
        # Every field, so the omitted ones return to their defaults.
        return await self.patch(task_id, data.model_dump(), if_match)

    async def patch(
        self, task_id: uuid.UUID, changes: dict[str, Any], if_match: IfMatch | None = None
    ) -> TaskRead:
        changes = dict(changes)
        completed = changes.pop("completed", None)
        statement = _update_statement(
            self.dialect, frozenset(changes), completed, _names_versions(if_match)
        )
        params = {f"new_{field}": value for field, value in changes.items()}
        params["now"] = utc_now()
        row = await self._update_owned(statement, task_id, params, if_match)
        return _to_read(row)

    async def toggle(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> TaskRead:
        statement = _toggle_statement(self.dialect, _names_versions(if_match))
        row = await self._update_owned(statement, task_id, {"now": utc_now()}, if_match)
        return _to_read(row)

    async def delete(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
        statement = _delete_statement(self.dialect, _names_versions(if_match))
        params: dict[str, Any] = {"now": utc_now()}
        if self.dialect == "postgresql":
            await self._write_owned(statement, task_id, params, if_match, self.safe_to_repeat)
            return
        # SQLite: the counter bump, the DELETE and its tombstone in one transaction (the
        # inner one of `_write` joins it); `_write` put the number in params["version"].
        connection = await self.connection()
        async with in_transaction(connection):
            await self._write_owned(statement, task_id, params, if_match, self.safe_to_repeat)
            await connection.execute(TOMBSTONE_SQLITE, params)

    async def _update_owned(
        self,
        statement: Executable,
        task_id: uuid.UUID,
        params: dict[str, Any],
        if_match: IfMatch | None,
    ) -> Row[Any]:
        # Safe to repeat under If-Match versions (see the class docstring).
        repeatable = self.safe_to_repeat or _names_versions(if_match)
        return await self._write_owned(statement, task_id, params, if_match, repeatable)

    async def _write_owned(
        self,
        statement: Executable,
        task_id: uuid.UUID,
        params: dict[str, Any],
        if_match: IfMatch | None,
        safe_to_repeat: bool,
    ) -> Row[Any]:
        params["task_id"] = task_id
        if if_match is not None and if_match.versions is not None:
            params["versions"] = list(if_match.versions)
        row = await self._write(statement, params, safe_to_repeat=safe_to_repeat)
        if row is not None:
            return row
        found = await self._found(task_id)
        if (
            safe_to_repeat
            and found is not None
            and found.owner == self.owner
            and found.updated_at == params["now"]
        ):
            # This request's own write, applied by a first run whose answer was lost.
            return found
        raise self._missing(found, if_match)

    async def _write(
        self, statement: Executable, params: dict[str, Any], *, safe_to_repeat: bool
    ) -> Row[Any] | None:
        """Run a versioned write (see the module docstring) and return its row, if any."""
        params["owner"] = self.owner
        connection = await self.connection()
        if self.dialect == "postgresql":
            return _first(
                await fetch_all(connection, statement, params, safe_to_repeat=safe_to_repeat)
            )
        # Local and in a transaction: nothing to repeat.
        async with in_transaction(connection):
            params["version"] = await connection.scalar(_BUMP_SQLITE, {"owner": self.owner})
            return (await connection.execute(statement, params)).first()

    async def _read(self, statement: Executable, params: dict[str, Any]) -> list[AnyRow]:
        # A read changes nothing: running it again is always safe.
        return await fetch_all(await self.connection(), statement, params, safe_to_repeat=True)

    async def _found(self, task_id: uuid.UUID) -> Row[Any] | None:
        return _first(await self._read(_FOUND, {"task_id": task_id}))

    def _missing(self, found: Row[Any] | None, if_match: IfMatch | None = None) -> Exception:
        """The one place that decides 404, 403 or 412 once an owner-scoped statement found
        nothing (`found`: the task as `_found` then read it): ownership first, then the
        precondition."""
        if found is None:
            return NotFoundError("No task has this id.")
        if found.owner != self.owner:
            return ForbiddenError("This task belongs to another user.")
        if if_match is not None:
            return PreconditionFailedError()
        # The caller's own task was deleted between the write and this look-up.
        return NotFoundError("No task has this id.")


def _first(rows: list[AnyRow]) -> AnyRow | None:
    return rows[0] if rows else None


def _names_versions(if_match: IfMatch | None) -> bool:
    # `If-Match: *` asks only that the task exist, which the owner-scoped WHERE already does.
    return if_match is not None and if_match.versions is not None
