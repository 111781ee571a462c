"""Problem details (RFC 9457) for every error, the framework's own included."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 5


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    # Sent in every response: required in the OpenAPI schema even though it has a default.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: str = Field(default="about:blank", description="A URI identifying the problem type.")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where the bad value is, e.g. ['body', 'title'].")
    msg: str
    type: str


class ValidationProblem(Problem):
    errors: list[ValidationErrorItem]


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


class AppError(Exception):
    """A domain error that knows its HTTP status; rendered by one handler."""

    status: ClassVar[int] = 500
    detail: str = "Internal server error."
    # Validation-style items ({"loc", "msg", "type"}), for 422s raised outside pydantic.
    errors: list[dict[str, Any]] | None = None

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.headers = dict(headers or {})


class NotFoundError(AppError):
    status = 404
    detail = "Not found."


class ForbiddenError(AppError):
    status = 403
    detail = "Forbidden."


class ConflictError(AppError):
    status = 409
    detail = "Conflict."


class BadRequestError(AppError):
    status = 400
    detail = "Bad request."


class GoneError(AppError):
    status = 410
    detail = "Gone."


class InvalidParameterError(AppError):
    """A 422 for a value pydantic could not judge alone (a cursor, a key reused)."""

    status = 422
    detail = "The request breaks a validation rule."

    def __init__(self, loc: list[str | int], message: str, error_type: str) -> None:
        super().__init__(f"{loc[-1]}: {message}")
        self.errors = [{"loc": loc, "msg": message, "type": error_type}]


class UnauthorizedError(AppError):
    status = 401
    detail = "Not authenticated."


class DatabaseUnavailableError(AppError):
    status = 503
    detail = "The database is unavailable; try again shortly."
    retry_after_seconds: ClassVar[int] = DATABASE_RETRY_AFTER_SECONDS

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(self.retry_after_seconds)})


class DatabaseContentionError(DatabaseUnavailableError):
    """A transaction that lost to a concurrent one (a deadlock or a serialization failure)
    twice, the second run included. A 503, not a 409: the request is valid and nothing in
    it conflicts with the task's state, so the same request a moment later succeeds, and
    clients already repeat a 503 after its Retry-After (409 here means an Idempotency-Key
    still in use, which the client must wait out or change)."""

    detail = "The database was busy with conflicting changes; try again shortly."
    retry_after_seconds = 1


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it may be a password or a token.
    return [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
        for item in error.errors()
    ]


async def _handle_app_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, AppError)
    return problem_response(error.status, error.detail, headers=error.headers, errors=error.errors)


async def _handle_validation_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = _validation_errors(error)
    if any(item["type"] == "json_invalid" for item in errors):
        return problem_response(400, "The request body is not valid JSON.")
    if isinstance(error.body, bytes):
        # FastAPI leaves a body it did not parse as bytes: its Content-Type was not JSON.
        try:
            json.loads(error.body)
        except ValueError:
            return problem_response(400, "The request body is not valid JSON.")
        return problem_response(415, "Send the request body as application/json.")
    return problem_response(422, "The request breaks a validation rule.", errors=errors)


def _allowed_methods(request: Request) -> str:
    # Starlette names only the first route that matched the path; each method here is its
    # own route, so gather them all for a truthful Allow header.
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _leaf_routes(included.routes)
        else:
            yield route


async def _handle_http_exception(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = dict(error.headers or {})
    if error.status_code == 404 and detail == "Not Found":
        detail = "No such route."
    elif error.status_code == 405:
        detail = "Method not allowed on this route."
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    elif error.status_code == 400:
        detail = "The request body could not be parsed."
    return problem_response(error.status_code, detail, headers=headers)


async def _handle_unexpected(_request: Request, error: Exception) -> ProblemResponse:
    # Reached only if the request-context middleware, which logs and answers unexpected
    # errors itself, failed: frames are logged, the message is not (observability.py).
    log.error("unhandled error", error=type(error).__name__, exc_info=error)
    return problem_response(500, "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(Exception, _handle_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries whose schema sits under application/problem+json.

    FastAPI's `model=` would file the schema under application/json, so the content is given
    explicitly; the schemas themselves are added to the components by `openapi.py`.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        schema = "ValidationProblem" if status == 422 else "Problem"
        entry: dict[str, Any] = {
            "description": PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
        headers = PROBLEM_HEADERS.get(status)
        if headers:
            entry["headers"] = headers
        responses[status] = entry
    return responses


def idempotency_problem_responses() -> dict[int | str, dict[str, Any]]:
    """The error responses an `Idempotency-Key` adds to a write route."""
    responses = problem_responses(400, 409, 422)
    responses[400]["description"] = (
        "The body is not valid JSON, or the Idempotency-Key header is malformed."
    )
    responses[409]["description"] = "A request with the same Idempotency-Key is still running."
    responses[422]["description"] = (
        "The body or a parameter breaks a validation rule, or the Idempotency-Key was already "
        "used for a different request."
    )
    return responses


PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON.",
    401: "Missing or invalid token, or wrong credentials.",
    403: "The task belongs to another user.",
    404: "No such task.",
    409: "Conflict.",
    410: "Gone.",
    412: "If-Match does not name the task's current ETag; nothing was changed.",
    413: "The body is larger than the configured limit.",
    415: "The body is not sent as application/json.",
    422: "The body or a parameter breaks a validation rule.",
    429: "Rate limited.",
    503: (
        "The database, or a token issuer's keys, cannot be reached right now, or the "
        "database was busy with conflicting changes; send the request again after Retry-After."
    ),
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
_RATE_LIMIT = {
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests per window."},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Left in it."},
    "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until it resets."},
}
PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}},
    429: {**_RETRY_AFTER, **_RATE_LIMIT},
    503: _RETRY_AFTER,
}
