"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to play a network outage.

`cut()` does both things a failing network does: new connections are refused (the listening
socket closes) and open ones go silent (bytes are swallowed, nothing is answered, nothing is
closed), which is the case that hangs a client without its own deadline. `restore()` listens
again and closes the silenced connections, as a server that timed them out would.
`lose_reply_to(marker)` fails one statement halfway: it reaches the server, its answer is lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._silenced = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._lose_reply_marker: bytes | None = None

    def url_for(self, database_url: str) -> str:
        """`database_url` with this proxy in front of its server."""
        return make_url(database_url).set(port=self.port).render_as_string(hide_password=False)

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self, *, refuse_new: bool = True) -> None:
        """Silence open connections; refuse new ones, or with refuse_new=False accept and
        silence them too (a network that drops every packet, SYN included)."""
        self._call(self._cut(refuse_new=refuse_new))

    def lose_reply_to(self, marker: bytes) -> None:
        """The next connection to send `marker` (a value bound to a statement, say) has it
        delivered; when the server answers, both sides of that connection are reset and the
        answer is dropped. The statement ran; the client only sees its connection die."""
        self._lose_reply_marker = marker

    def restore(self) -> None:
        self._call(self._restore())

    def close(self) -> None:
        with suppress(Exception):
            self._call(self._cut())
            self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coroutine: object) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        future.result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self, refuse_new: bool = True) -> None:
        self._silenced = True
        if refuse_new and self._server is not None:
            self._server.close()
            self._server = None

    async def _restore(self) -> None:
        await self._close_all()
        self._silenced = False
        if self._server is None:
            await self._listen()

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._silenced:
            # Accepted and never answered: the client waits on its own timeouts.
            self._writers.add(client)
            with suppress(OSError):
                while await client_reader.read(65536):
                    pass
            return
        try:
            server_reader, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._writers.update((client, server))
        doomed = asyncio.Event()
        await asyncio.gather(
            self._pipe(client_reader, server, client, doomed, upstream=True),
            self._pipe(server_reader, client, server, doomed, upstream=False),
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
        doomed: asyncio.Event,
        *,
        upstream: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self._silenced:
                    continue  # swallowed: the peer waits for an answer that never comes
                marker = self._lose_reply_marker
                if upstream and marker is not None and marker in data:
                    self._lose_reply_marker = None
                    doomed.set()
                if not upstream and doomed.is_set():
                    writer.transport.abort()
                    other.transport.abort()
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            # While silenced, the other side is kept open (and kept in `_writers` for
            # restore to close): a silent network does not tell anyone anything.
            if not self._silenced:
                writer.transport.abort()


@contextmanager
def tcp_proxy(target_host: str, target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
