"""The application factory and its lifespan, which owns every shared resource."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from todo_api import __version__
from todo_api.auth.jwks import create_jwks_key_source
from todo_api.auth.passwords import PasswordService
from todo_api.auth.routes import router as auth_router
from todo_api.auth.tokens import TokenVerifier
from todo_api.database import create_engine, wait_for_database
from todo_api.errors import install_error_handlers
from todo_api.health import router as health_router
from todo_api.middleware import BodySizeLimitMiddleware
from todo_api.observability import configure_logging
from todo_api.openapi import install_openapi
from todo_api.settings import Settings, load_settings
from todo_api.state import Resources
from todo_api.tasks.routes import router as tasks_router

log = structlog.get_logger(__name__)

DESCRIPTION = """\
A multi-user task service. Every `/tasks` request carries `Authorization: Bearer <JWT>`;
the token's `sub` owns the tasks. Errors are `application/problem+json` (RFC 9457).
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    public_keys = create_jwks_key_source(settings)
    engine = create_engine(settings)
    try:
        await wait_for_database(engine, settings)
        if settings.uses_insecure_secret:
            log.warning(
                "JWT_SECRET is not set: using a fixed, publicly known development secret. "
                "Anyone can mint tokens for this service. Set JWT_SECRET before exposing it."
            )
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            verifier=TokenVerifier(settings, public_keys),
            passwords=PasswordService(),
        )
        log.info(
            "todo-api ready",
            environment=settings.environment,
            database=settings.sqlalchemy_url.render_as_string(hide_password=True),
            algorithms=settings.allowed_algorithms,
            jwks_url=settings.jwt_jwks_url,
        )
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise show up as latency spikes under load.
        gc.freeze()
        yield
    finally:
        if public_keys is not None:
            public_keys.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
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
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(auth_router)
    app.include_router(tasks_router)
    app.include_router(health_router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
