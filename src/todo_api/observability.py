"""Structured logging with structlog: console lines in development, JSON otherwise.

Also the few helpers that keep secrets out of log lines: a keyed user reference, database
and Redis descriptions without credentials, and tracebacks without exception messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
import threading
import traceback
from collections.abc import Callable, MutableMapping
from functools import lru_cache
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from sqlalchemy.engine import URL

from todo_api.keys import derive_key
from todo_api.settings import Settings

# Query parameters of a database URL that are safe and useful to show; any other (a libpq
# URL may carry `password=...`) is left out.
_SHOWN_DATABASE_PARAMETERS = ("sslmode", "channel_binding")
_CHATTY_LIBRARIES = (
    "aiosqlite",
    "sqlalchemy",
    "psycopg",
    "httpx",
    "httpcore",
    "coredis",
    "asyncio",
)


def configure_logging(settings: Settings) -> None:
    renderer: structlog.types.Processor
    if settings.effective_log_format == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The service's own lines skip the standard library's logging (a LogRecord, handler
    # locks and a record copy per line): that halved the cost of the per-request line.
    # Libraries' lines still go through logging, rendered the same way.
    structlog.configure(
        processors=[*shared, redact_exception, renderer],
        logger_factory=_StderrLogger,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        # Not cached: a module's logger then follows a later configuration (each test app
        # configures its own); hot paths bind their logger once instead.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_exception,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # These log SQL with its parameters or full URLs at INFO or DEBUG, which would put
    # request data (a password among them) in the log; LOG_LEVEL is for this service's lines.
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Uvicorn's access log would duplicate the request line with less context.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class _StderrLogger:
    """Writes each rendered line to the current sys.stderr (which tests may swap)."""

    _lock = threading.Lock()

    def __init__(self, *_args: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        with self._lock:
            stream = sys.stderr
            stream.write(message + "\n")
            stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _json_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=repr).decode()


def redact_exception(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Render an exception as its class and stack frames, never its message.

    Driver and library messages can carry SQL parameters, connection strings or a token
    that failed to parse; the frames are enough to find the bug.
    """
    exc_info = event.pop("exc_info", None)
    if not exc_info:
        return event
    error: BaseException | None
    if isinstance(exc_info, BaseException):
        error = exc_info
    elif isinstance(exc_info, tuple):
        error = exc_info[1]
    else:
        error = sys.exc_info()[1]
    if error is not None:
        event["exception"] = _exception_summary(error)
        code = _sqlstate(error)
        if code is not None:
            event.setdefault("sqlstate", code)
    return event


def _sqlstate(error: BaseException) -> str | None:
    """A database error's SQLSTATE (psycopg's errors carry it), which says what went wrong
    without the message's SQL and parameters."""
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str):
            return code
        current = current.__cause__ or current.__context__
    return None


def _exception_summary(error: BaseException) -> str:
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}")
        lines.extend(_frames(current.__traceback__))
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.append("caused by / during:")
    return "\n".join(lines)


def _frames(tb: TracebackType | None) -> list[str]:
    return [
        f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)
    ]


def user_reference_function(settings: Settings) -> Callable[[str], str]:
    """A keyed, non-reversible reference to a token subject for log lines.

    A plain hash of a subject (an email or an id) can be reversed by hashing candidates;
    an HMAC under a key derived from the server's secret cannot, yet stays stable across
    instances and restarts so one user's requests can still be followed.
    """
    key = derive_key(settings.server_secret_or_default, b"todo-api log user reference")

    @lru_cache(maxsize=4096)
    def reference(subject: str) -> str:
        return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:16]

    return reference


def describe_database(url: URL) -> str:
    """The database URL without password or unknown query parameters."""
    shown = {name: url.query[name] for name in _SHOWN_DATABASE_PARAMETERS if name in url.query}
    return url.set(password=None, query=shown).render_as_string(hide_password=True)


def describe_redis(raw: str) -> str:
    """scheme://host:port/db of a Redis URL, without user or password."""
    parts = urlsplit(raw)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
