"""`StreamHub`: the open event streams of this process, woken by the users whose data changed.

A notification (PostgreSQL's NOTIFY, or SQLite's in-process feed) only names users; each of
their streams then reads what it has not delivered yet, from its own last token, through the
query of `/tasks/changes`. So a wake-up is a hint: one too many costs a read that finds
nothing, and one lost (a listener that reconnected) is made up by waking every stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from todo_api.errors import AppError


class TooManyStreamsError(AppError):
    status = 429
    detail = "Too many open event streams for this user; close one or try again later."


class ShuttingDownError(AppError):
    status = 503
    detail = "The service is shutting down; reconnect shortly."


class Subscriber:
    """One open stream: its user, whether something may have changed for it, and whether
    its client has gone."""

    __slots__ = ("changed", "gone", "owner")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.changed = asyncio.Event()
        self.gone = False

    def client_left(self) -> None:
        self.gone = True
        self.changed.set()

    async def wait(self, seconds: float) -> bool:
        """Whether the stream was woken within `seconds` (cleared for the next wait)."""
        if not self.changed.is_set():
            try:
                async with asyncio.timeout(max(seconds, 0)):
                    await self.changed.wait()
            except TimeoutError:
                return False
        self.changed.clear()
        return True


class StreamHub:
    def __init__(self, max_streams_per_user: int, retry_after_seconds: int, reads: int) -> None:
        self._streams: dict[str, set[Subscriber]] = {}
        self._max_streams_per_user = max_streams_per_user
        self._retry_after = str(retry_after_seconds)
        self.closing = False
        # Catch-up reads at once: a wake-up of every stream (after the listener reconnected)
        # must leave the pool's connections to requests.
        self.reads = asyncio.Semaphore(reads)

    @property
    def open_streams(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    def join(self, owner: str) -> Subscriber:
        if self.closing:
            raise ShuttingDownError(headers={"Retry-After": "1"})
        streams = self._streams.setdefault(owner, set())
        if len(streams) >= self._max_streams_per_user:
            raise TooManyStreamsError(headers={"Retry-After": self._retry_after})
        subscriber = Subscriber(owner)
        streams.add(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        streams = self._streams.get(subscriber.owner)
        if streams is None:
            return
        streams.discard(subscriber)
        if not streams:
            del self._streams[subscriber.owner]

    def notify(self, owners: Iterable[str]) -> None:
        for owner in owners:
            for subscriber in self._streams.get(owner, ()):
                subscriber.changed.set()

    def notify_all(self) -> None:
        """Every stream catches up: notifications may have been missed."""
        for streams in self._streams.values():
            for subscriber in streams:
                subscriber.changed.set()

    def close(self) -> None:
        """End every stream now (shutdown); new ones are refused."""
        self.closing = True
        self.notify_all()
