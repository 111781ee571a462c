"""The rules of live updates: where a stream starts, what it delivers next, and tickets.

A stream is a sync client that never stops: it holds a position in its user's change
sequence (a `SyncPosition`, tasks/sync_tokens.py) and, each time it is woken, reads what
came after it through the query of `/tasks/changes` (tasks/changes.py says why that misses
nothing and repeats nothing). Every event carries the sync token of its own position, so a
client that resumes from it (`Last-Event-ID`, `?since=`, or `/tasks/changes?since=`) gets
exactly what followed. A token too old for the tombstones kept, or from a history that was
erased, gets one `reset` event, whose id is the stream's position from then on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from todo_api.connections import RequestConnection
from todo_api.database import Database, utc_now
from todo_api.errors import GoneError, InvalidParameterError
from todo_api.events.repository import TicketRepository
from todo_api.events.tickets import (
    TICKET_SECONDS,
    InvalidTicketError,
    Ticket,
    open_ticket,
    seal_ticket,
)
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.tasks.changes import LAST_ID, changes_start, ordered_changes
from todo_api.tasks.queries import LIST, LIST_DELETED, TASK, TASK_DELETED
from todo_api.tasks.repository import TaskRepository
from todo_api.tasks.sync_tokens import SyncPosition, decode_sync_token, encode_sync_token

# Changes read at once; a longer backlog is read in pages of this size, one after another.
PAGE = 500
# A position past every number: reads the counter alone.
_PAST_EVERYTHING = 1 << 62
_NAMES = {TASK: "task", TASK_DELETED: "task-deleted", LIST: "list", LIST_DELETED: "list-deleted"}
_RESET_DATA = orjson.dumps(
    {"detail": "Changes since the token are no longer known: sync again without `since`."}
)


@dataclass(frozen=True, slots=True)
class ServerEvent:
    name: str
    id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class CatchUp:
    events: list[ServerEvent]
    position: SyncPosition
    # More changes are waiting beyond this page: read again at once.
    has_more: bool


class EventService:
    __slots__ = ("database", "keep_days", "owner", "tokens")

    def __init__(
        self, database: Database, tokens: OpaqueTokens, owner: str, *, keep_days: int
    ) -> None:
        self.database = database
        self.tokens = tokens
        self.owner = owner
        self.keep_days = keep_days

    async def start(self, since: str | None, last_event_id: str | None) -> CatchUp:
        """Where a new stream starts, and its first page: after `last_event_id` (what a
        browser sends on reconnecting, so it wins over the `since` of the URL it reconnects
        to) or `since`; without either, at the changes committed from now on."""
        now = utc_now()
        token = last_event_id if last_event_id is not None else since
        if token is None:
            return CatchUp([], await self._present(now), has_more=False)
        try:
            position = decode_sync_token(
                self.tokens, self.owner, token, now=now, keep_days=self.keep_days
            )
        except GoneError:
            return await self._reset(now)
        except InvalidParameterError as error:
            if last_event_id is None:
                raise
            raise InvalidParameterError(
                ["header", "Last-Event-ID"],
                "not an event id issued to you by this service",
                "sync_token_invalid",
            ) from error
        return await self.catch_up(position)

    async def catch_up(self, position: SyncPosition) -> CatchUp:
        """The changes after `position`, at most a page of them, as events."""
        now = utc_now()
        seq, after_id, since_time = changes_start(position, now)
        async with self.database.connect() as connection:
            tasks = TaskRepository(RequestConnection.held(connection), self.owner)
            rows = await tasks.changes(seq, after_id, PAGE + 1, with_deletions=True)
        try:
            changes, following, has_more = ordered_changes(rows, position, PAGE, now)
        except GoneError:
            return await self._reset(now)
        events = []
        for change in changes:
            token = self._token(SyncPosition(change.seq, since_time, change.id))
            data = change.fields if change.fields is not None else {"id": change.id}
            events.append(
                ServerEvent(_NAMES[change.kind], token, orjson.dumps(data, option=orjson.OPT_UTC_Z))
            )
        return CatchUp(events, following, has_more)

    async def _present(self, now: datetime) -> SyncPosition:
        async with self.database.connect() as connection:
            tasks = TaskRepository(RequestConnection.held(connection), self.owner)
            rows = await tasks.changes(_PAST_EVERYTHING, LAST_ID, 1, with_deletions=False)
        high_water = rows[0].high_water if rows else None
        return SyncPosition(high_water or 0, now)

    async def _reset(self, now: datetime) -> CatchUp:
        position = await self._present(now)
        return CatchUp([ServerEvent("reset", self._token(position), _RESET_DATA)], position, False)

    def _token(self, position: SyncPosition) -> str:
        return encode_sync_token(self.tokens, self.owner, position)


class TicketService:
    __slots__ = ("repository", "tokens")

    def __init__(self, repository: TicketRepository, tokens: OpaqueTokens) -> None:
        self.repository = repository
        self.tokens = tokens

    def issue(self, owner: str, token_expires_at: int) -> tuple[str, int]:
        """A ticket for `owner`, and its lifetime in seconds."""
        expires_at = utc_now() + timedelta(seconds=TICKET_SECONDS)
        ticket = Ticket(uuid.uuid4(), owner, expires_at, token_expires_at)
        return seal_ticket(self.tokens, ticket), TICKET_SECONDS

    async def redeem(self, text: str) -> Ticket:
        ticket = open_ticket(self.tokens, text, utc_now())
        if not await self.repository.mark_used(ticket.id, ticket.expires_at):
            raise InvalidTicketError
        return ticket
