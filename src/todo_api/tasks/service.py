"""`TaskService`: the rules of one user's tasks for every front door, over `TaskRepository`'s
rows; those of parents and order: placement.py.

The rules kept here and nowhere else:
- ownership and preconditions: once an owner-scoped statement finds nothing, one look-up
  tells "no task" (404) from "someone else's task" (403) from "not the version If-Match
  names" (412) (`_missing`);
- which writes may run again after a lost connection, and how a repeated write that matched
  nothing is recognised as the first run's own (`_updated`);
- list cursors and sync tokens: sealed for the user and checked (cursors.py, sync_tokens.py);
- writes under an Idempotency-Key (`write_once`, through idempotency/service.py);
- a task's list: the caller's default list by its id when none is named (made on first
  need, lists/service.py), and a `list_id` that is not one of the caller's lists refused
  as 422 without saying whether it exists (`_into_list`).

A write that may run twice: reads, always (the repository repeats them); every write when
the service is `safe_to_repeat` (it serves a GET or HEAD, which writes nothing the caller
asked for); an update (PUT, PATCH, toggle) under an If-Match naming versions: if the first
run committed, the task has moved to a new version, so the second run matches nothing and
cannot apply the change twice. It would then answer 412 for a write that succeeded, so that
miss is recognised as the replay: the task still carries the `updated_at` the first run
wrote, the request's own `now` (microseconds, taken once per write, so no other write has
it), and is answered as the write's result. If another write changed the task in between,
the answer is 412, which is also what the client's now stale ETag would get. Not
`If-Match: *` (a toggle run twice toggles back), not a DELETE (a second run finds nothing
and would answer 404 for a delete that succeeded, with no cheap way to tell), not a create:
those stay one attempt and answer 503 if their connection is lost. A write under an
Idempotency-Key runs in a transaction, where nothing is repeated per statement; the whole
keyed transaction is repeated instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.connections import RequestConnection
from todo_api.database import utc_now
from todo_api.errors import ForbiddenError, NotFoundError
from todo_api.idempotency.keys import IdempotentRequest
from todo_api.idempotency.service import IdempotencyService, StoredResponse
from todo_api.lists.repository import ListRepository
from todo_api.lists.service import ListService, unknown_list
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.tasks import recurring
from todo_api.tasks.changes import changes_page, changes_start, has_default_list
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError
from todo_api.tasks.cursors import (
    check_offset_with_cursor,
    decode_cursor,
    encode_cursor,
    page_fingerprint,
    sort_value_of,
)
from todo_api.tasks.filters import TaskFilters
from todo_api.tasks.placement import ABSENT, Move, create_subtask, place
from todo_api.tasks.placement_schemas import TaskMove
from todo_api.tasks.repository import AnyRow, TaskRepository, task_fields
from todo_api.tasks.schemas import (
    TaskCreate,
    TaskPageRows,
    TaskRead,
    TaskReplace,
    TaskSort,
)
from todo_api.tasks.sync_tokens import decode_sync_token, encode_sync_token
from todo_api.tasks.tags import TagCount

P = ParamSpec("P")
T = TypeVar("T")
# How a task write's result becomes the response a key stores (tasks/responses.py).
TaskRender = Callable[[TaskRead], StoredResponse]


class TaskService:
    __slots__ = ("keep_days", "keys", "lists", "owner", "safe_to_repeat", "tasks", "tokens")

    def __init__(
        self,
        tasks: TaskRepository,
        keys: IdempotencyService,
        lists: ListService,
        *,
        tokens: OpaqueTokens,
        keep_days: int,
        safe_to_repeat: bool = False,
    ) -> None:
        self.tasks = tasks
        self.keys = keys
        self.lists = lists
        self.owner = tasks.owner
        self.tokens = tokens
        # SYNC_TOMBSTONE_DAYS: how old a sync token may be.
        self.keep_days = keep_days
        self.safe_to_repeat = safe_to_repeat

    @classmethod
    def on(
        cls,
        connection: AsyncConnection,
        owner: str,
        *,
        tokens: OpaqueTokens | None = None,
        safe_to_repeat: bool = False,
        keep_days: int = 30,
        key_ttl: timedelta = timedelta(days=1),
    ) -> TaskService:
        """The tasks of `owner` on a connection the caller holds (scripts, tests); without
        `tokens`, a key of this process seals cursors and sync tokens."""
        held = RequestConnection.held(connection)
        tasks = TaskRepository(held, owner)
        keys = IdempotencyService(held, owner, key_ttl)
        return cls(
            tasks,
            keys,
            ListService(ListRepository(held, owner), tasks, keys),
            tokens=tokens or OpaqueTokens(None),
            keep_days=keep_days,
            safe_to_repeat=safe_to_repeat,
        )

    async def create(self, data: TaskCreate, stored: dict[str, Any] | None = None) -> TaskRead:
        recurring.check_recurrence(data.recurrence, data.due_at)
        # `stored`: columns a front door keeps beside the content (CalDAV's text and name).
        now = utc_now()
        # The default list by its id, with no look-up (lists/service.py).
        list_id = data.list_id or self.lists.default_list_id
        values = {
            "id": uuid.uuid4(),
            "list_id": list_id,
            "title": data.title,
            "description": data.description,
            "completed": data.completed,
            "priority": data.priority,
            "due_at": data.due_at,
            "tags": data.tags,
            "created_at": now,
            "updated_at": now,
            "completed_at": now if data.completed else None,
            **recurring.columns_of(data.recurrence, data.due_at),
            **(stored or {}),
        }
        if data.parent_id is not None:
            parent_id, given_list = data.parent_id, data.list_id
            subtask = await self.tasks.connection.transaction(
                lambda: create_subtask(self.tasks, values, parent_id, given_list, now),
                safe_to_repeat=False,
            )
            return _to_read(subtask)
        row = await self._into_list(
            list_id, lambda: self.tasks.insert(values, safe_to_repeat=self.safe_to_repeat)
        )
        assert row is not None, "an insert returns its row"
        return _to_read(row)

    async def get(self, task_id: uuid.UUID) -> TaskRead:
        row = await self.tasks.get(task_id)
        if row is None:
            raise self._missing(await self.tasks.find(task_id))
        return _to_read(row)

    async def replace(
        self, task_id: uuid.UUID, data: TaskReplace, if_match: IfMatch | None = None
    ) -> TaskRead:
        # Every field, so the omitted ones return to their defaults.
        return await self.patch(task_id, data.replacement(), if_match)

    async def patch(
        self, task_id: uuid.UUID, changes: dict[str, Any], if_match: IfMatch | None = None
    ) -> TaskRead:
        fields = dict(changes)
        if "parent_id" in fields:
            # A new parent: placed in a transaction (placement.py), the other fields after.
            move = Move(fields.pop("list_id", ABSENT), fields.pop("parent_id"), ABSENT, True)
            return await self._place(task_id, move, if_match, then=fields)
        completed = fields.pop("completed", None)
        write = recurring.TaskWrite.of(fields, completed)
        now = utc_now()
        versions = _versions(if_match)

        async def update() -> AnyRow | None:
            repeatable = self._update_repeatable(versions)
            return await write.run(self.tasks, task_id, now, if_match, self._missing, repeatable)

        # A move to another list: one statement, the subtasks following (statements.py).
        list_id = fields.get("list_id")
        row = await (update() if list_id is None else self._into_list(list_id, update))
        if row is None and list_id is not None and completed is None and len(fields) == 1:
            found = await self.tasks.find(task_id)
            if (
                found is not None
                and found.owner == self.owner
                and found.list_id == list_id
                and (versions is None or _version_of(found) in versions)
            ):
                # A move to the list the task is already in changes nothing.
                return _to_read(found)
        return await self._updated(row, task_id, now, if_match)

    async def move(
        self, task_id: uuid.UUID, body: TaskMove, if_match: IfMatch | None = None
    ) -> TaskRead:
        """`POST /tasks/{id}/move` (placement.py)."""
        given = {name: getattr(body, name) for name in body.model_fields_set}
        return await self._place(task_id, Move(**given), if_match)

    async def _place(
        self,
        task_id: uuid.UUID,
        move: Move,
        if_match: IfMatch | None,
        then: dict[str, Any] | None = None,
    ) -> TaskRead:
        """Place the task, then (a PATCH) change `then`'s fields, in one transaction."""
        versions = _versions(if_match)

        async def transaction() -> AnyRow:
            now = utc_now()
            return await self.tasks.connection.transaction(
                lambda: place(self.tasks, task_id, move, versions, now, self._missing, then),
                safe_to_repeat=False,
            )

        if isinstance(move.list_id, uuid.UUID):
            return _to_read(await self._into_list(move.list_id, transaction))
        return _to_read(await transaction())

    async def _into_list(self, list_id: uuid.UUID, write: Callable[[], Awaitable[T]]) -> T:
        """Run a write that puts a task into `list_id`. The foreign key refuses it when the
        list is not one of the owner's: 422, unless it is the owner's default list, not made
        yet (a new user's first task, or the first after erasure), which is then made and
        the write run again. Once the list exists this costs nothing: one statement."""
        try:
            return await write()
        except IntegrityError:
            if list_id != self.lists.default_list_id:
                raise unknown_list() from None
        await self.lists.ensure_default_list()
        return await write()

    async def toggle(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> TaskRead:
        now = utc_now()
        versions = _versions(if_match)
        row = await self.tasks.toggle(
            task_id, now=now, versions=versions, safe_to_repeat=self._update_repeatable(versions)
        )
        if row is None:  # a miss, or an open recurring task to advance (recurring.py)
            row = await recurring.toggle(self.tasks, task_id, now, if_match, self._missing)
        return _to_read(row)

    async def delete(self, task_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
        gone = await self.tasks.delete(
            task_id, now=utc_now(), versions=_versions(if_match), safe_to_repeat=self.safe_to_repeat
        )
        if not gone:
            raise self._missing(await self.tasks.find(task_id), if_match)

    async def write_once(
        self,
        request: IdempotentRequest | None,
        render: TaskRender,
        write: Callable[P, Awaitable[TaskRead]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> StoredResponse:
        """`write` (one of this service's writes) rendered by `render`; with an
        Idempotency-Key, at most once per key (idempotency/service.py)."""

        async def produce() -> StoredResponse:
            return render(await write(*args, **kwargs))

        return await self.keys.respond_once(request, produce)

    async def page(
        self,
        *,
        limit: int,
        offset: int,
        filters: TaskFilters,
        sort: TaskSort,
        cursor: str | None = None,
    ) -> TaskPageRows:
        key = sort.lstrip("-")
        fingerprint: str | None = None
        after: tuple[Any, uuid.UUID] | None = None
        if cursor is not None:
            check_offset_with_cursor(offset)
            fingerprint = page_fingerprint(filters, sort)
            position = decode_cursor(self.tokens, self.owner, fingerprint, cursor)
            after = (sort_value_of(key, position), position.task_id)
        # With a cursor, one row more than the page, to tell whether another page follows.
        fetched = limit if after is None else limit + 1
        rows = await self.tasks.page(filters, sort, limit=fetched, offset=offset, after=after)
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
            total = await self.tasks.count(filters, sort)
        items = [task_fields(row) for row in rows]
        next_cursor = None
        if more:
            last = items[-1]
            fingerprint = fingerprint or page_fingerprint(filters, sort)
            sort_value = last[key]
            if isinstance(sort_value, datetime):
                sort_value = sort_value.isoformat()
            next_cursor = encode_cursor(
                self.tokens, self.owner, fingerprint, sort_value, last["id"]
            )
        return {
            "items": items,
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_cursor": next_cursor,
        }

    async def changes(self, since: str | None, limit: int) -> dict[str, Any]:
        """`GET /tasks/changes`: a page of changes after the token `since` (changes.py)."""
        now = utc_now()
        position = (
            None
            if since is None
            else decode_sync_token(
                self.tokens, self.owner, since, now=now, keep_days=self.keep_days
            )
        )
        seq, after_id, _since_time = changes_start(position, now)
        rows = await self.tasks.changes(
            seq, after_id, limit + 1, with_deletions=position is not None
        )
        if not has_default_list(rows):
            # A new user's first sync shows the default list, made now (lists/service.py).
            await self.lists.ensure_default_list()
            rows = await self.tasks.changes(
                seq, after_id, limit + 1, with_deletions=position is not None
            )
        page, following = changes_page(rows, position, limit, now)
        return {**page, "next_since": encode_sync_token(self.tokens, self.owner, following)}

    async def tag_counts(self) -> list[TagCount]:
        return [TagCount(name=row[0], count=row[1]) for row in await self.tasks.tag_counts()]

    def _update_repeatable(self, versions: tuple[int, ...] | None) -> bool:
        # Safe to repeat under If-Match versions (see the module docstring).
        return self.safe_to_repeat or versions is not None

    async def _updated(
        self, row: AnyRow | None, task_id: uuid.UUID, now: datetime, if_match: IfMatch | None
    ) -> TaskRead:
        if row is not None:
            return _to_read(row)
        found = await self.tasks.find(task_id)
        if (
            self._update_repeatable(_versions(if_match))
            and found is not None
            and found.owner == self.owner
            and found.updated_at == now
        ):
            # This request's own write, applied by a first run whose answer was lost.
            return _to_read(found)
        raise self._missing(found, if_match)

    def _missing(self, found: AnyRow | None, if_match: IfMatch | None = None) -> Exception:
        """The one place that decides 404, 403 or 412 once an owner-scoped statement found
        nothing (`found`: the task as `TaskRepository.find` then read it): ownership first,
        then the precondition."""
        if found is None:
            return NotFoundError("No task has this id.")
        if found.owner != self.owner:
            return ForbiddenError("This task belongs to another user.")
        if if_match is not None:
            return PreconditionFailedError()
        # The caller's own task was deleted between the write and this look-up.
        return NotFoundError("No task has this id.")


def _to_read(row: AnyRow) -> TaskRead:
    return TaskRead.model_validate(task_fields(row))


def _version_of(row: AnyRow) -> int:
    return int(str(row.etag).strip('"'))


def _versions(if_match: IfMatch | None) -> tuple[int, ...] | None:
    # `If-Match: *` asks only that the task exist, which the owner-scoped WHERE already does.
    return None if if_match is None else if_match.versions
