"""Errors of the token endpoint in two languages at once: each stays a problem document
(RFC 9457) and gains OAuth2's `error` and `error_description` (RFC 6749 section 5.2) as
extension members, which OAuth2 clients (the Authorize dialog of /docs among them) show.

A middleware adds them, so every error of the endpoint carries them, whoever answered it:
the route, request validation, or the rate limit and body limit in front of the router.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.errors import PROBLEM_MEDIA_TYPE, Problem, ValidationProblem, problem_responses

TOKEN_PATH = "/auth/token"  # noqa: S105  (a path, not a secret)

OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_grant",
    "unsupported_grant_type",
    "temporarily_unavailable",
    "server_error",
]

_ERROR_BY_STATUS: dict[int, OAuthErrorCode] = {
    # RFC 6749 section 5.2 asks for 400 here; API.md keeps 401 for wrong credentials.
    401: "invalid_grant",
    # Built-in accounts are off: this server does not offer the password grant.
    403: "unsupported_grant_type",
    # Not in section 5.2, but the registered code for "try again later" (section 4.1.2.1).
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
    500: "server_error",
}
# error_description may hold only these (RFC 6749 section 5.2): printable ASCII but " and \.
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthErrorMembers(BaseModel):
    error: OAuthErrorCode = Field(
        description="The OAuth2 error code (RFC 6749 section 5.2): `invalid_grant` for a wrong "
        "email or password, `invalid_request` for a malformed request, "
        "`unsupported_grant_type` for a grant other than `password` or when built-in accounts "
        "are off, `temporarily_unavailable` when rate limited or the database is down."
    )
    error_description: str = Field(
        description="The problem's `detail`, in the characters OAuth2 allows, for OAuth2 clients "
        "to show."
    )


class TokenProblem(Problem, OAuthErrorMembers):
    """A problem document of the token endpoint, with the OAuth2 error members."""


class TokenValidationProblem(ValidationProblem, OAuthErrorMembers):
    """A validation problem of the token endpoint, with the OAuth2 error members."""


def token_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`problem_responses`, with the schemas that carry the OAuth2 members."""
    responses = problem_responses(*statuses)
    for status, entry in responses.items():
        schema = TokenValidationProblem if status == 422 else TokenProblem
        entry["content"][PROBLEM_MEDIA_TYPE]["schema"] = {
            "$ref": f"#/components/schemas/{schema.__name__}"
        }
    return responses


def oauth_members(problem: dict[str, Any]) -> dict[str, str]:
    status = problem.get("status")
    errors = problem.get("errors") or []
    fields = [item["loc"][-1] for item in errors if item.get("loc")]
    if status in _ERROR_BY_STATUS:
        code = _ERROR_BY_STATUS[status]
    elif "grant_type" in fields:
        code = "unsupported_grant_type"
    else:
        code = "invalid_request"
    description = str(problem.get("detail", ""))
    if fields:
        description = f"{description.rstrip('.')}: {', '.join(map(str, fields))}."
    return {"error": code, "error_description": _NOT_IN_DESCRIPTION.sub("", description)}


class TokenErrorMiddleware:
    """Adds the OAuth2 members to every problem document answered on the token endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != TOKEN_PATH:
            await self.app(scope, receive, send)
            return
        problem_start: Message | None = None
        body = bytearray()

        async def send_with_members(message: Message) -> None:
            nonlocal problem_start
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _is_problem(message):
                    problem_start = message  # sent once the whole body is in
                    return
            elif problem_start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                problem = json.loads(body)
                problem.update(oauth_members(problem))
                content = json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
                headers = [
                    (name, value)
                    for name, value in problem_start["headers"]
                    if name != b"content-length"
                ]
                headers.append((b"content-length", str(len(content)).encode("ascii")))
                await send({**problem_start, "headers": headers})
                message = {"type": "http.response.body", "body": content}
            await send(message)

        await self.app(scope, receive, send_with_members)


def _is_problem(message: Message) -> bool:
    return any(
        name == b"content-type" and value.startswith(PROBLEM_MEDIA_TYPE.encode("ascii"))
        for name, value in message.get("headers", ())
    )
