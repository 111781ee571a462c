"""The application factory and its lifespan, which owns every shared resource."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from todo_api import __version__
from todo_api.app_passwords.routes import router as app_passwords_router
from todo_api.auth.jwks import REAL_CLOCK, Clock, create_jwks_key_source
from todo_api.auth.passwords import PasswordService
from todo_api.auth.routes import router as auth_router
from todo_api.auth.token_errors import TokenErrorMiddleware
from todo_api.auth.tokens import TokenVerifier
from todo_api.database import Database
from todo_api.dav.routes import install_dav
from todo_api.docs import install_docs
from todo_api.errors import install_error_handlers
from todo_api.events.live import LiveUpdates
from todo_api.events.routes import router as events_router
from todo_api.health import router as health_router
from todo_api.lists.routes import router as lists_router
from todo_api.metrics import (
    mark_this_worker_dead,
    multiprocess_dir,
    refresh_pool_gauges_forever,
)
from todo_api.metrics import router as metrics_router
from todo_api.middleware import (
    BodySizeLimitMiddleware,
    ProblemCORSMiddleware,
    RequestContextMiddleware,
)
from todo_api.observability import (
    configure_logging,
    describe_database,
    user_reference_function,
)
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.openapi import install_openapi, operation_id
from todo_api.pruning import prune_forever
from todo_api.ratelimit import RateLimiter
from todo_api.settings import Settings, load_settings
from todo_api.state import Resources
from todo_api.tasks.move_routes import router as move_router
from todo_api.tasks.routes import router as tasks_router
from todo_api.tasks.tag_routes import tags_router

log = structlog.get_logger(__name__)

DESCRIPTION = """\
A multi-user task service. Every `/tasks` request carries `Authorization: Bearer <JWT>`;
the token's `sub` owns the tasks. Errors are `application/problem+json` (RFC 9457).
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    jwks_clock: Clock = app.state.jwks_clock
    public_keys = create_jwks_key_source(settings, jwks_clock)
    database = Database(settings)
    rate_limiter = RateLimiter(settings)
    pool_refresher: asyncio.Task[None] | None = None
    pruner: asyncio.Task[None] | None = None
    live_updates = LiveUpdates(settings, database)
    try:
        await database.wait_until_answering()
        if settings.uses_insecure_secret:
            log.warning(
                "JWT_SECRET is not set: using a fixed, publicly known development secret. "
                "Anyone can mint tokens for this service. Set JWT_SECRET before exposing it."
            )
        if settings.server_secret_or_default is None:
            log.warning(
                "Neither SERVER_SECRET nor JWT_SECRET is set: list cursors and sync tokens are "
                "signed with a key of this process only, so other instances and restarts "
                "refuse them (422) and clients start over. Set SERVER_SECRET to share one key."
            )
        if not await rate_limiter.open():
            log.warning(
                "rate-limit store does not answer; starting anyway, requests pass unchecked "
                "until it does",
                storage=rate_limiter.storage_description,
            )
        if public_keys is not None:
            public_keys.start()
        app.state.resources = Resources(
            settings=settings,
            database=database,
            verifier=TokenVerifier(settings, public_keys),
            rate_limiter=rate_limiter,
            opaque_tokens=OpaqueTokens(settings.server_secret_or_default),
            passwords=PasswordService(),
            live_updates=live_updates,
        )
        live_updates.start()
        pruner = asyncio.create_task(prune_forever(database))
        if multiprocess_dir() is not None:
            pool_refresher = asyncio.create_task(refresh_pool_gauges_forever(database))
        log.info(
            "todo-api ready",
            environment=settings.environment,
            database=describe_database(settings.sqlalchemy_url),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        log.info(
            "token issuers",
            shared_secret=settings.signing_secret is not None,
            jwks_url=settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=settings.allowed_algorithms,
        )
        log.info("rate limits", **rate_limiter.describe())
        yield
    finally:
        await live_updates.close()
        for background in (pruner, pool_refresher):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        await rate_limiter.close()
        if public_keys is not None:
            await public_keys.aclose()
        await database.dispose()
        mark_this_worker_dead()


def create_app(settings: Settings | None = None, *, jwks_clock: Clock = REAL_CLOCK) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings)
    app = FastAPI(
        title="todo-api",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Bearer tokens, not cookies, authenticate requests, so a body without a
        # Content-Type is simply read as JSON.
        strict_content_type=False,
        # A redirect from /tasks/ to /tasks would point at the internal scheme and host
        # behind a proxy, and some clients drop Authorization on redirects: answer 404.
        redirect_slashes=False,
        # FastAPI's native OpenTelemetry asks the global providers (and os.environ) on every
        # request; this service reports through /metrics and its request log instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The docs pages are added by install_docs, with assets served from here.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    # Tests pass a clock they move on themselves, rather than wait for the JWKS cache to age.
    app.state.jwks_clock = jwks_clock
    install_error_handlers(app)
    # Routes are matched in the order they were added: the busiest first (a GET /tasks/{id}
    # behind the docs and auth routes cost 18 us, 3%, more in process).
    app.include_router(tasks_router)
    app.include_router(move_router)
    app.include_router(tags_router)
    app.include_router(lists_router)
    app.include_router(app_passwords_router)
    app.include_router(events_router)
    app.include_router(auth_router)
    if settings.dav_enabled:
        install_dav(app)
    install_openapi(app)
    docs_policies = install_docs(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    install_middleware(app, settings, docs_policies)
    return app


def install_middleware(app: FastAPI, settings: Settings, docs_policies: dict[str, str]) -> None:
    # Each add_middleware wraps the ones before it, so this list runs inside out.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(TokenErrorMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-ID",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
            ],
            expose_headers=[
                "X-Request-ID",
                "Location",
                "ETag",
                "Idempotent-Replayed",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            # Bearer tokens, not cookies: credentialed CORS is never needed.
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        docs_policies=docs_policies,
        strict_transport_security=settings.environment == "production",
        user_reference=user_reference_function(settings),
    )
