"""`AppPasswordServiceDep`: app passwords, for the `/auth/app-passwords` routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from todo_api.app_passwords.repository import AppPasswordRepository
from todo_api.app_passwords.service import AppPasswordService
from todo_api.connections import RequestConnection, RequestConnectionDep
from todo_api.state import Resources, ResourcesDep


def app_password_service(resources: Resources, connection: RequestConnection) -> AppPasswordService:
    """App passwords on a request's connection (taken at the first statement), with the
    application's rate limiter: what every door builds the service with."""
    return AppPasswordService(AppPasswordRepository(connection), resources.rate_limiter)


async def _app_password_service(
    resources: ResourcesDep, connection: RequestConnectionDep
) -> AppPasswordService:
    return app_password_service(resources, connection)


# scope="function", as the connection it holds.
AppPasswordServiceDep = Annotated[
    AppPasswordService, Depends(_app_password_service, scope="function")
]
