"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from todo_api.errors import DATABASE_RETRY_AFTER_SECONDS, problem_response, problem_responses
from todo_api.state import ResourcesDep

router = APIRouter(prefix="/health", tags=["health"])

READINESS_TIMEOUT_SECONDS = 3.0


class HealthStatus(BaseModel):
    # Sent in every response: required in the OpenAPI schema even though it has a default.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: Literal["ok"] = "ok"


@router.get("", response_model=HealthStatus, summary="Liveness: the process runs")
async def health() -> HealthStatus:
    return HealthStatus()


@router.get(
    "/ready",
    response_model=HealthStatus,
    summary="Readiness: the database answers",
    responses=problem_responses(503),
)
async def ready(resources: ResourcesDep) -> HealthStatus | JSONResponse:
    if await resources.database.answers(READINESS_TIMEOUT_SECONDS):
        return HealthStatus()
    return problem_response(
        503,
        "The database does not answer.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )
