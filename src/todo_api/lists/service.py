"""The rules of task lists: the default list, ownership (403/404), preconditions (412), names.

The default list
----------------
Every user has one, from the first request that needs it. Its id is a function of the
owner (`default_list_id`, uuid5 of the subject), so making it is an insert that a second,
concurrent one cannot repeat: the primary key refuses it, and `ON CONFLICT DO NOTHING`
makes that refusal a no-op. Exactly one therefore exists whatever requests race, on every
instance, for built-in and outside users alike; after `DELETE /auth/me` the next need makes
it again, with the same id.

Nothing looks it up on the hot path. A task written into it names its id directly; the
foreign key from tasks to lists refuses the write only while the list is missing, and only
then is it made and the write run again (tasks/repository.py). Requests that show lists
(`GET /lists`, `/tasks/changes`) see whether it is among the rows they read anyway.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from todo_api.database import in_transaction, utc_now
from todo_api.errors import ConflictError, ForbiddenError, InvalidParameterError, NotFoundError
from todo_api.lists.models import default_list_id
from todo_api.lists.repository import LIST_FIELDS, AnyRow, ListRepository
from todo_api.lists.schemas import ListCreate, ListRead, ListRename
from todo_api.tasks.conditions import IfMatch, PreconditionFailedError

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
    # The same answer whether the list exists (another user's) or not: nothing revealed.
    return InvalidParameterError(["body", "list_id"], "is not one of your lists", "list_unknown")


def to_read(row: AnyRow) -> ListRead:
    return ListRead.model_validate(dict(zip(LIST_FIELDS, row, strict=True)))


async def ensure_default_list(lists: ListRepository) -> None:
    """Make the caller's default list unless it exists (concurrent calls make one)."""
    await lists.insert_default(utc_now())


async def all_lists(lists: ListRepository) -> list[ListRead]:
    rows = await lists.all()
    if not rows or not rows[0].is_default:
        # The default list sorts first: without it first, the caller has none yet.
        await ensure_default_list(lists)
        rows = await lists.all()
    return [to_read(row) for row in rows]


async def create_list(lists: ListRepository, data: ListCreate) -> ListRead:
    try:
        row = await lists.insert_unless_full(uuid.uuid4(), data.name, utc_now(), MAX_LISTS)
    except IntegrityError:
        raise ListNameTakenError from None
    if row is None:
        raise TooManyListsError
    return to_read(row)


async def get_list(lists: ListRepository, list_id: uuid.UUID) -> ListRead:
    row = await lists.get(list_id)
    if row is None and await _made_default(lists, list_id):
        row = await lists.get(list_id)
    if row is None:
        raise _missing(lists, await lists.found(list_id))
    return to_read(row)


async def rename_list(
    lists: ListRepository, list_id: uuid.UUID, data: ListRename, if_match: IfMatch | None
) -> ListRead:
    versions = None if if_match is None else if_match.versions

    async def rename() -> AnyRow | None:
        try:
            return await lists.rename(list_id, data.name, utc_now(), versions)
        except IntegrityError:
            raise ListNameTakenError from None

    row = await rename()
    if row is None:
        found = await lists.found(list_id)
        if found is None and await _made_default(lists, list_id):
            row = await rename()
            found = None if row is not None else await lists.found(list_id)
        if row is None:
            raise _missing(lists, found, if_match)
    return to_read(row)


async def delete_list(lists: ListRepository, list_id: uuid.UUID, if_match: IfMatch | None) -> None:
    """The list and its tasks, each task a deletion in sync, all in one transaction."""
    if list_id == default_list_id(lists.owner):
        # The caller's own default list, whether it has been made yet or not.
        raise DefaultListDeletionError
    connection = await lists.connection()
    async with in_transaction(connection):
        first_seq = await lists.lock_for_delete()
        row = await lists.locked_list(list_id)
        if row is None:
            raise _missing(lists, await lists.found(list_id))
        if row.is_default:
            raise DefaultListDeletionError
        versions = None if if_match is None else if_match.versions
        if versions is not None and row.version not in versions:
            raise ListChangedError
        await lists.delete_with_tasks(list_id, first_seq, utc_now())


async def _made_default(lists: ListRepository, list_id: uuid.UUID) -> bool:
    """Whether `list_id` is the caller's default list, missing until now and made here."""
    if list_id != default_list_id(lists.owner):
        return False
    await ensure_default_list(lists)
    return True


def _missing(
    lists: ListRepository, found: AnyRow | None, if_match: IfMatch | None = None
) -> Exception:
    """404, 403 or 412 once an owner-scoped statement found nothing: ownership first."""
    if found is None:
        return ListNotFoundError()
    if found.owner != lists.owner:
        return ListOfAnotherUserError()
    if if_match is not None:
        return ListChangedError()
    return ListNotFoundError()
