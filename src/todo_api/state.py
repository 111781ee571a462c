"""Resources that the application's lifespan owns, handed to requests as typed state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from todo_api.auth.passwords import PasswordService
from todo_api.auth.tokens import TokenVerifier
from todo_api.database import Database
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.settings import Settings

if TYPE_CHECKING:
    from todo_api.events.live import LiveUpdates
    from todo_api.ratelimit import RateLimiter


@dataclass(slots=True)
class Resources:
    settings: Settings
    database: Database
    verifier: TokenVerifier
    rate_limiter: RateLimiter
    opaque_tokens: OpaqueTokens
    passwords: PasswordService = field(default_factory=PasswordService)
    live_updates: LiveUpdates | None = None


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


# async on purpose: FastAPI would run a plain `def` dependency in its thread pool, a
# thread hop on every request for what is an attribute read.
async def get_resources(request: Request) -> Resources:
    return resources_of(request)


ResourcesDep = Annotated[Resources, Depends(get_resources)]
