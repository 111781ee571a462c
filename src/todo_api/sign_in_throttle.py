"""Failed sign-ins per user name, against RATE_LIMIT_LOGIN_FAILURES: `SignInThrottle`, for
every door that takes a password (`POST /auth/token` through `login_attempt`, app passwords
over HTTP Basic), on the rate limiter's `login` counters (ratelimit.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from todo_api.ratelimit import SCOPE_KEY, LimitDecision, RateLimitedError, RateLimiter


class TooManySignInsError(RateLimitedError):
    detail = "Too many failed sign-ins for this user name; retry after the time in Retry-After."

    def __init__(self, decision: LimitDecision, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(decision.reset_seconds)})
        self.decision = decision


class SignInThrottle:
    """Failed sign-ins of one user name (an email lower-cased, known or not), against
    RATE_LIMIT_LOGIN_FAILURES, for every door that takes a password: `POST /auth/token`
    (`login_attempt`) and app passwords over HTTP Basic (app_passwords/service.py). Unknown
    names are counted alike, so a 429 reveals nothing about which accounts exist; a
    sign-in that succeeds clears the count (`succeeded`).

    Two ways to count. An account password is counted before it is checked (`attempt`), so
    concurrent guesses cannot all pass a check made before any of them failed. An app
    password is counted only when it fails (`check`, then `failed`): apps send it with
    every request, several at once, and counting those in flight would refuse an app with
    the right password; an app password has 140 random bits, so guesses that slip past the
    limit together gain nothing.
    """

    __slots__ = ("_identity", "_limiter")

    def __init__(self, limiter: RateLimiter, name: str) -> None:
        self._limiter = limiter
        self._identity = limiter.email_identity(name)

    async def attempt(self, detail: str | None = None) -> None:
        """Count one attempt; TooManySignInsError (429) once the window's failures are spent."""
        _refuse_unless_allowed(await self._limiter.hit("login", self._identity), detail)

    async def check(self) -> None:
        """TooManySignInsError (429) if the window's failures are spent; counts nothing."""
        _refuse_unless_allowed(await self._limiter.peek("login", self._identity), None)

    async def failed(self) -> None:
        await self._limiter.hit("login", self._identity)

    async def succeeded(self) -> None:
        await self._limiter.reset("login", self._identity)


def _refuse_unless_allowed(decision: LimitDecision | None, detail: str | None) -> None:
    if decision is not None and not decision.allowed:
        raise TooManySignInsError(decision, detail)


def describe_refusal(request: Request, error: TooManySignInsError) -> None:
    """Make the RateLimit-* headers of the response describe the sign-in limit that refused
    it, not the address limit (the request-context middleware adds them)."""
    request.scope[SCOPE_KEY] = error.decision


@asynccontextmanager
async def login_attempt(request: Request, limiter: RateLimiter, email: str) -> AsyncIterator[None]:
    """A sign-in for `email` counted by `SignInThrottle`: 429 once its failures in the window
    reach RATE_LIMIT_LOGIN_FAILURES; a sign-in that succeeds clears the count."""
    throttle = SignInThrottle(limiter, email)
    try:
        await throttle.attempt(
            "Too many failed sign-ins for this email; retry after the time in Retry-After."
        )
    except TooManySignInsError as error:
        describe_refusal(request, error)
        raise
    yield
    await throttle.succeeded()
