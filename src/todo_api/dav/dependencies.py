"""`DavServiceDep`: the signed-in caller's CalDAV, for every `/dav/` route."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from todo_api.connections import RequestConnectionDep
from todo_api.dav.authentication import DavUser
from todo_api.dav.paths import user_segment
from todo_api.dav.repository import DavRepository
from todo_api.dav.service import DavService
from todo_api.errors import ForbiddenError
from todo_api.idempotency.service import IdempotencyService
from todo_api.lists.repository import ListRepository
from todo_api.lists.service import ListService
from todo_api.state import resources_of
from todo_api.tasks.repository import TaskRepository
from todo_api.tasks.service import TaskService

# Methods that change nothing: their statements run again if the connection is lost.
_READS = frozenset({"GET", "HEAD", "PROPFIND", "REPORT"})


async def dav_service(
    request: Request, subject: DavUser, connection: RequestConnectionDep
) -> DavService:
    """The caller's CalDAV over their task and list services, on the request's connection.
    An address under another user's `{user}` segment is 403 here, before anything is read:
    a user reaches only their own principal, home and calendars."""
    user = request.path_params.get("user")
    if user is not None and user != user_segment(subject):
        raise ForbiddenError("This address belongs to another user.")
    settings = resources_of(request).settings
    ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    tasks = TaskRepository(connection, subject)
    keys = IdempotencyService(connection, subject, ttl)
    lists = ListService(ListRepository(connection, subject), tasks, keys)
    task_service = TaskService(
        tasks,
        keys,
        lists,
        tokens=resources_of(request).opaque_tokens,
        keep_days=settings.sync_tombstone_days,
        safe_to_repeat=request.method in _READS,
    )
    repository = DavRepository(connection, subject)
    return DavService(task_service, lists, repository, settings.sync_tombstone_days)


# scope="function", as the connection it holds.
DavServiceDep = Annotated[DavService, Depends(dav_service, scope="function")]
