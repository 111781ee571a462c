"""`ListService`: the rules of one user's task lists, for every front door, over
`ListRepository`'s rows (and `TaskRepository`'s, for the tasks a deleted list takes along).

The rules kept here and nowhere else: the default list (below); ownership (404/403) and
preconditions (412) once an owner-scoped statement finds nothing (`_missing`); names unique
per user ignoring case (the database's unique key decides, a refusal is 409); at most
MAX_LISTS lists; the default list is never deleted (409); `POST /lists` under an
Idempotency-Key (through idempotency/service.py).

The default list
----------------
Every user has one, from the first request that needs it. Its id is a function of the
owner (`default_list_id`, uuid5 of the subject), so making it is an insert that a second,
concurrent one cannot repeat: the primary key refuses it, and `ON CONFLICT DO NOTHING` makes
that refusal a no-op. Exactly one therefore exists whatever requests race, on every
instance, for built-in and outside users alike; after `DELETE /auth/me` the next need makes
it again, with the same id.

Nothing looks it up on the hot path. A task written into it names its id directly; the
foreign key from tasks to lists refuses the write only while the list is missing, and only
then is it made and the write run again (`TaskService`). Requests that show lists
(`GET /lists`, `/tasks/changes`) see whether it is among the rows they read anyway, and
make it first when it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from sqlalchemy.exc import IntegrityError

from todo_api.database import utc_now
from todo_api.errors import ConflictError, ForbiddenError, InvalidParameterError, NotFoundError
from todo_api.idempotency.keys import IdempotentRequest
from todo_api.idempotency.service import IdempotencyService, StoredResponse
from todo_api.lists.models import default_list_id
from todo_api.lists.repository import AnyRow, ListRepository, list_fields
from todo_api.lists.schemas import ListCreate, ListRead, ListRename
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError
from todo_api.tasks.repository import TaskRepository

P = ParamSpec("P")
MAX_LISTS = 200


class ListNotFoundError(NotFoundError):
    detail = "No list has this id."


class ListOfAnotherUserError(ForbiddenError):
    detail = "This list belongs to another user."


class ListNameTakenError(ConflictError):
    detail = "You already have a list with this name (names are compared ignoring case)."


class TooManyListsError(ConflictError):
    detail = f"You have {MAX_LISTS} lists, the most allowed: delete one first."


class DefaultListDeletionError(ConflictError):
    detail = "The default list cannot be deleted; rename it, or delete its tasks instead."


class ListChangedError(PreconditionFailedError):
    detail = "The list has changed: its ETag no longer matches If-Match."


def unknown_list() -> InvalidParameterError:
    """A task body's `list_id` that is not one of the caller's lists: the same answer whether
    another user has such a list or nobody does, so nothing is revealed."""
    return InvalidParameterError(["body", "list_id"], "is not one of your lists", "list_unknown")


class ListService:
    __slots__ = ("keys", "lists", "owner", "tasks")

    def __init__(
        self, lists: ListRepository, tasks: TaskRepository, keys: IdempotencyService
    ) -> None:
        self.lists = lists
        self.tasks = tasks
        self.keys = keys
        self.owner = lists.owner

    @property
    def default_list_id(self) -> uuid.UUID:
        return default_list_id(self.owner)

    async def ensure_default_list(self) -> None:
        """Make the caller's default list unless it exists (concurrent calls make one)."""
        await self.lists.insert_default(utc_now())

    async def all(self) -> list[ListRead]:
        rows = await self.lists.all()
        if not rows or not rows[0].is_default:
            # The default list sorts first: without it first, the caller has none yet.
            await self.ensure_default_list()
            rows = await self.lists.all()
        return [_to_read(row) for row in rows]

    async def create(self, data: ListCreate) -> ListRead:
        """In one transaction holding the owner's counter: the default list first if it is
        missing (so its name is taken and it counts), then the new list."""

        async def create_in_transaction() -> AnyRow | None:
            version = await self.lists.take_numbers(1)
            await self.ensure_default_list()
            try:
                return await self.lists.insert_unless_full(
                    uuid.uuid4(), data.name, utc_now(), version=version, most=MAX_LISTS
                )
            except IntegrityError:
                raise ListNameTakenError from None

        # Not repeated after a lost connection: it may have committed (503 then).
        row = await self.lists.connection.transaction(create_in_transaction, safe_to_repeat=False)
        if row is None:
            raise TooManyListsError
        return _to_read(row)

    async def get(self, list_id: uuid.UUID) -> ListRead:
        row = await self.lists.get(list_id)
        if row is None and await self._made_default(list_id):
            row = await self.lists.get(list_id)
        if row is None:
            raise self._missing(await self.lists.find(list_id))
        return _to_read(row)

    async def rename(
        self, list_id: uuid.UUID, data: ListRename, if_match: IfMatch | None = None
    ) -> ListRead:
        versions = None if if_match is None else if_match.versions

        async def rename() -> AnyRow | None:
            try:
                return await self.lists.rename(list_id, data.name, utc_now(), versions)
            except IntegrityError:
                raise ListNameTakenError from None

        row = await rename()
        if row is None:
            found = await self.lists.find(list_id)
            if found is None and await self._made_default(list_id):
                row = await rename()
                found = None if row is not None else await self.lists.find(list_id)
            if row is None:
                raise self._missing(found, if_match)
        return _to_read(row)

    async def delete(self, list_id: uuid.UUID, if_match: IfMatch | None = None) -> None:
        """The list and every task in it, in one transaction: each task leaves a tombstone,
        then the list, numbered in that order, so a replica removes the tasks first."""
        if list_id == self.default_list_id:
            # The caller's own default list, whether it has been made yet or not.
            raise DefaultListDeletionError
        now = utc_now()

        async def delete_in_transaction() -> None:
            # Taking the counter first holds every other write of the owner until the end:
            # no task can join the list after its tasks are read.
            first = await self.lists.take_numbers(1)
            row = await self.lists.locked(list_id)
            if row is None:
                raise self._missing(await self.lists.find(list_id))
            if row.is_default:
                raise DefaultListDeletionError
            versions = None if if_match is None else if_match.versions
            if versions is not None and row.version not in versions:
                raise ListChangedError
            last = await self.tasks.delete_in_list(list_id, first_seq=first, now=now)
            await self.lists.delete(list_id, last, now)

        await self.lists.connection.transaction(delete_in_transaction, safe_to_repeat=False)

    async def write_once(
        self,
        request: IdempotentRequest | None,
        render: Callable[[ListRead], StoredResponse],
        write: Callable[P, Awaitable[ListRead]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> StoredResponse:
        """`write` (one of this service's writes) rendered by `render`; with an
        Idempotency-Key, at most once per key (idempotency/service.py)."""

        async def produce() -> StoredResponse:
            return render(await write(*args, **kwargs))

        return await self.keys.respond_once(request, produce)

    async def _made_default(self, list_id: uuid.UUID) -> bool:
        """Whether `list_id` is the caller's default list, missing until now and made here."""
        if list_id != self.default_list_id:
            return False
        await self.ensure_default_list()
        return True

    def _missing(self, found: AnyRow | None, if_match: IfMatch | None = None) -> Exception:
        """404, 403 or 412 once an owner-scoped statement found nothing: ownership first."""
        if found is None:
            return ListNotFoundError()
        if found.owner != self.owner:
            return ListOfAnotherUserError()
        if if_match is not None:
            return ListChangedError()
        return ListNotFoundError()


def _to_read(row: AnyRow) -> ListRead:
    return ListRead.model_validate(list_fields(row))
