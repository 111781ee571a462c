"""Pure ASGI middleware: request context (id, log line, metrics, security headers), the
request body limit, and CORS whose refusals are problem documents."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.errors import problem_response
from todo_api.metrics import (
    REQUEST_DURATION,
    REQUESTS,
    REQUESTS_IN_PROGRESS,
    UNMATCHED_ROUTE,
    method_label,
)
from todo_api.ratelimit import SCOPE_KEY as RATE_LIMIT_SCOPE_KEY


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, by Content-Length or while streaming.

    A chunked body has no Content-Length, so the bytes are counted as they arrive and the
    read fails once the limit is passed; FastAPI lets an HTTPException from there through.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail)
            return message

        await self.app(scope, limited_receive, send)

    @property
    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, self._detail, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


_REQUEST_ID_HEADER = b"x-request-id"
_MAX_REQUEST_ID_LENGTH = 128
_REQUEST_ID_CHARACTERS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
)

_API_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
# Swagger UI and ReDoc load their scripts, styles and fonts from CDNs and start with an
# inline script, so only their pages get a policy that allows exactly that.
_DOCS_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
        b"img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
        b"font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
)
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is 1-128 of A-Z a-z 0-9 . _ -, else a new one."""
    for name, value in headers:
        if name == _REQUEST_ID_HEADER:
            if 0 < len(value) <= _MAX_REQUEST_ID_LENGTH and _REQUEST_ID_CHARACTERS.issuperset(
                value
            ):
                return value.decode("ascii")
            break
    # From the operating system, so pre-forked workers never repeat each other's ids (a
    # generator seeded at import would be copied by fork): 0.33 us (bench/micro.py).
    return secrets.token_hex(16)


class RequestContextMiddleware:
    """The outermost layer: request id, security headers, metrics and the request log line.

    Pure ASGI rather than BaseHTTPMiddleware: that one runs the app in another task, which
    loses the structlog context variables bound here and buffers streamed responses.
    It also turns an exception that escaped everything else into a problem+json 500, so
    that response carries the request id and headers like any other.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Iterable[str],
        strict_transport_security: bool,
        user_reference: Callable[[str], str],
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        extra = (_HSTS,) if strict_transport_security else ()
        self.api_headers = (*_API_SECURITY_HEADERS, *extra)
        self.docs_headers = (*_DOCS_SECURITY_HEADERS, *extra)
        self.user_reference = user_reference
        # Bound once: resolving a logger through structlog's proxy costs on every call.
        self.log = structlog.get_logger("todo_api.request").bind()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        # Request state of this request only: some servers hand every request the same
        # dict, and the subject stashed by authentication must not outlive its request.
        state = scope["state"] = {**scope["state"]} if "state" in scope else {}
        request_id = request_id_from(scope["headers"])
        raw_request_id = request_id.encode("ascii")
        is_docs = scope["path"] in self.docs_paths
        security_headers = self.docs_headers if is_docs else self.api_headers
        context = structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [*message.get("headers", ()), (_REQUEST_ID_HEADER, raw_request_id)]
                headers.extend(security_headers)
                if not is_docs and not any(name == b"cache-control" for name, _ in headers):
                    headers.append(_NO_STORE)
                decision = scope.get(RATE_LIMIT_SCOPE_KEY)
                if decision is not None:
                    headers.extend(decision.headers())
                message = {**message, "headers": headers}
            await send(message)

        REQUESTS_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            status = 500
            self.log.error("unhandled error", error=type(error).__name__, exc_info=error)
            if started:
                raise
            response = problem_response(500, "Internal server error.")
            await response(scope, receive, send_with_headers)
        finally:
            REQUESTS_IN_PROGRESS.dec()
            self._record(scope, state, status, time.perf_counter() - start)
            structlog.contextvars.reset_contextvars(**context)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, duration: float) -> None:
        method = method_label(scope["method"])
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED_ROUTE
        labels = (method, template, str(status))
        REQUESTS.labels(*labels).inc()
        REQUEST_DURATION.labels(*labels).observe(duration)
        level = logging.ERROR if status >= 500 else logging.INFO
        if not self.log.is_enabled_for(level):
            return
        subject = state.get("subject")
        self.log.log(
            level,
            "request",
            method=method,
            route=template,
            status=status,
            duration_ms=round(duration * 1000, 2),
            user=self.user_reference(subject) if isinstance(subject, str) else None,
        )


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem+json like any error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        }
        return problem_response(
            400,
            "CORS preflight refused: the origin, method or headers are not allowed.",
            headers=headers,
        )
