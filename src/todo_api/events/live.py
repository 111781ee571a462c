"""`LiveUpdates`: what the lifespan starts for `GET /events` and stops at shutdown.

The hub of this process's streams; on PostgreSQL the one listening connection
(listener.py), on SQLite the in-process feed (todo_api/database/change_feed.py); and the
signal hook that ends every stream the moment SIGTERM or SIGINT arrives. Uvicorn's graceful
shutdown waits for open responses to finish, and a stream never does: without the hook a
restart would wait out its graceful timeout, then cut them anyway.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

from todo_api.database import Database, is_pooled_host, uses_transaction_pooler
from todo_api.database.change_feed import install_sqlite_change_feed
from todo_api.events.hub import StreamHub
from todo_api.events.listener import ChangeListener
from todo_api.settings import Settings

log = structlog.get_logger(__name__)

_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class LiveUpdates:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        # A stream's slot frees at the latest at its next heartbeat: retry after one.
        self.hub = StreamHub(
            settings.events_max_streams_per_user,
            retry_after_seconds=math.ceil(settings.events_heartbeat_seconds),
            reads=max(1, settings.db_pool_size // 2),
        )
        self.listener: ChangeListener | None = None
        self._restore_signals: Callable[[], None] = lambda: None

    def start(self) -> None:
        settings = self.settings
        url = settings.listen_url
        if url is None:
            install_sqlite_change_feed(self.database.engine, self.hub.notify)
        else:
            requests_url = settings.sqlalchemy_url
            if (
                settings.database_listen_url is None
                and not is_pooled_host(requests_url)  # Neon's: its direct host is derived
                and uses_transaction_pooler(requests_url, settings)
            ):
                log.warning(
                    "DATABASE_URL goes through a transaction pooler, which cannot LISTEN: "
                    "live updates will miss changes made through other instances until "
                    "DATABASE_LISTEN_URL names a direct (not pooled) URL"
                )
            self.listener = ChangeListener(self.settings, url, self.hub)
            self.listener.start()
        self._restore_signals = _end_streams_on_signals(self.hub)

    async def close(self) -> None:
        self.hub.close()
        self._restore_signals()
        if self.listener is not None:
            await self.listener.close()


def _end_streams_on_signals(hub: StreamHub) -> Callable[[], None]:
    """Close `hub` when an ending signal arrives, then hand the signal to the handler that
    was there (uvicorn's, which starts the graceful shutdown)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    earlier: dict[int, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(hub.close)
        previous = earlier.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for ending in _ENDING_SIGNALS:
        earlier[ending] = signal.signal(ending, handle)

    def restore() -> None:
        for ending, previous in earlier.items():
            if signal.getsignal(ending) is handle:
                signal.signal(ending, previous)

    return restore
