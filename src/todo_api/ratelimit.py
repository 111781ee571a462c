"""Rate limits, declared by the routes: per token subject on every bearer-authenticated route
(`CurrentUser`), per client address on the sign-in routes (`limit_by_address`), and per user
name on failed sign-ins (sign_in_throttle.py, built on `RateLimiter` here).

Windows are fixed and aligned to the wall clock (window n covers [n*period, (n+1)*period)),
so every instance agrees on when a window resets without asking the store: one counter
increment per request answers "allowed?", "how many remain?" and "when does it reset?".

Counters live in this process by default, or in Redis (REDIS_URL, through the `limits`
library's storage) so that several instances share them. The in-process counter is a small
dict rather than `limits`' MemoryStorage, which on every hit schedules a task that walks
every key it holds: too slow for the request path once there are many users.

If Redis fails the service keeps serving (fail open): the failure is counted, logged at
most once a minute, and Redis is left alone for a few seconds so a dead store costs no
time per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from coredis.retry import NoRetryPolicy
from fastapi import Request
from limits import parse_many
from limits.aio.storage import RedisStorage
from limits.storage import storage_from_string
from starlette.types import Scope

from todo_api.errors import AppError
from todo_api.keys import derive_key
from todo_api.metrics import RATE_LIMIT_REJECTIONS, RATE_LIMIT_STORAGE_ERRORS, RATE_LIMIT_UNCHECKED
from todo_api.observability import describe_redis
from todo_api.settings import Settings

log = structlog.get_logger(__name__)

LimitName = Literal["tasks", "auth", "login"]
# Where the decision for a request is left for the request-context middleware, which adds
# the RateLimit-* headers to whatever response is finally sent.
SCOPE_KEY = "todo_api.rate_limit"
REDIS_KEY_PREFIX = "todo-api"
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0
FAILURE_LOG_INTERVAL_SECONDS = 60.0
_SWEEP_EVERY_SECONDS = 60.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class LimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]


class RateLimitedError(AppError):
    status = 429
    detail = "Too many requests; slow down and retry after the time in Retry-After."


class _LocalCounters:
    """Counters for one process: {key: [expires_at, count]}; keys name their window, so
    expired ones are only garbage, dropped by a sweep at most once a minute."""

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}
        self._next_sweep = 0.0

    def increment(self, key: str, expires_at: float, now: float) -> int:
        entry = self._counts.get(key)
        if entry is None:
            if now >= self._next_sweep:
                self._next_sweep = now + _SWEEP_EVERY_SECONDS
                self._counts = {k: e for k, e in self._counts.items() if e[0] > now}
            self._counts[key] = [expires_at, 1]
            return 1
        entry[1] += 1
        return int(entry[1])

    def count(self, key: str) -> int:
        entry = self._counts.get(key)
        return 0 if entry is None else int(entry[1])

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)


def _counter_key(name: LimitName, amount: int, period: int, window: int, identity: str) -> str:
    return f"{name}/{amount}/{period}/{window}/{identity}"


def _amounts_and_periods(text: str) -> tuple[tuple[int, int], ...]:
    # Read once: asking the parsed items for their period on every request showed up in
    # profiles.
    return tuple((item.amount, item.get_expiry()) for item in parse_many(text))


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        # (amount, period in seconds) of each limit, read once: asking the parsed items on
        # every request showed up in profiles.
        self._limits: dict[LimitName, tuple[tuple[int, int], ...]] = {
            "tasks": _amounts_and_periods(settings.rate_limit_tasks),
            "auth": _amounts_and_periods(settings.rate_limit_auth),
            "login": _amounts_and_periods(settings.rate_limit_login_failures),
        }
        # Emails are counted under an HMAC of themselves, so the shared store holds no
        # address; the key comes from the server's secret, which every instance shares.
        self._email_key = derive_key(settings.server_secret_or_default, b"todo-api login throttle")
        self._settings = settings
        self._local = _LocalCounters()
        self._redis: RedisStorage | None = None
        self._redis_retry_at = 0.0
        self._failures_unlogged = 0
        self._next_failure_log = 0.0
        self.trusted_proxies: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in settings.trusted_proxies
        )

    @property
    def storage_description(self) -> str:
        if self._settings.redis_url is None:
            return "memory (this process)"
        return describe_redis(self._settings.redis_url)

    def describe(self) -> dict[str, str]:
        return {
            "tasks_per_subject": self._settings.rate_limit_tasks,
            "auth_per_address": self._settings.rate_limit_auth,
            "login_failures_per_email": self._settings.rate_limit_login_failures,
            "storage": self.storage_description,
        }

    async def open(self) -> bool:
        """Connect the shared store, if any; False when it does not answer (we start anyway)."""
        url = self._settings.redis_url
        if url is None:
            return True
        # No retries inside the client: a failed call fails fast and the limiter's own
        # back-off takes over, so an unreachable Redis costs one timeout per 5 s.
        options: dict[str, Any] = {
            "key_prefix": REDIS_KEY_PREFIX,
            "connect_timeout": REDIS_TIMEOUT_SECONDS,
            "stream_timeout": REDIS_TIMEOUT_SECONDS,
            "retry_policy": NoRetryPolicy(),
        }
        storage = storage_from_string(f"async+{url}", **options)
        assert isinstance(storage, RedisStorage)
        self._redis = storage
        try:
            async with asyncio.timeout(2 * REDIS_TIMEOUT_SECONDS):
                return await storage.check()
        except TimeoutError:
            return False

    async def close(self) -> None:
        if self._redis is None:
            return
        client: Any = getattr(self._redis.bridge, "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
        self._redis = None

    async def peek(self, name: LimitName, identity: str) -> LimitDecision | None:
        """Whether one more request of `identity` would pass, without counting it; None when
        the store is down."""
        return await self.hit(name, identity, counting=False)

    async def hit(
        self, name: LimitName, identity: str, *, counting: bool = True
    ) -> LimitDecision | None:
        """Count one request (unless not `counting`: `peek`); None when the store is down and
        the request goes unchecked."""
        now = time.time()
        decision: LimitDecision | None = None
        for amount, period in self._limits[name]:
            window = int(now // period)
            key = _counter_key(name, amount, period, window, identity)
            if self._redis is None:
                if counting:
                    count = self._local.increment(key, (window + 1) * period, now)
                else:
                    count = self._local.count(key) + 1
            else:
                shared = await self._redis_count(key, period, now, counting=counting)
                if shared is None:
                    RATE_LIMIT_UNCHECKED.labels(name).inc()
                    return None
                count = shared if counting else shared + 1
            remaining = max(0, amount - count)
            reset = max(1, math.ceil((window + 1) * period - now))
            allowed = count <= amount
            if (
                decision is None
                or not allowed
                or (decision.allowed and remaining < decision.remaining)
            ):
                decision = LimitDecision(allowed, amount, remaining, reset)
            if not allowed:
                RATE_LIMIT_REJECTIONS.labels(name).inc()
                break
        return decision

    async def reset(self, name: LimitName, identity: str) -> None:
        """Forget this window's count of `identity`; best effort when the store is down."""
        now = time.time()
        for amount, period in self._limits[name]:
            key = _counter_key(name, amount, period, int(now // period), identity)
            if self._redis is None:
                self._local.clear(key)
                continue
            if now < self._redis_retry_at:
                return
            try:
                await self._redis.clear(key)
            except Exception as error:
                self._redis_failed(error, now)
                return

    def email_identity(self, email: str) -> str:
        # surrogatepass: whatever text a form field decodes to, hashing it cannot fail.
        data = email.encode("utf-8", "surrogatepass")
        return hmac.new(self._email_key, data, hashlib.sha256).hexdigest()

    async def _redis_count(
        self, key: str, period: int, now: float, *, counting: bool
    ) -> int | None:
        """The shared count of `key`, one more when `counting`; None while the store is down."""
        assert self._redis is not None
        if now < self._redis_retry_at:
            return None
        try:
            if not counting:
                return await self._redis.get(key)
            # The key names its window, so a key whose expiry was never set (a crash
            # between INCRBY and EXPIRE) is simply never read again.
            return await self._redis.incr(key, period + 1)
        except Exception as error:
            self._redis_failed(error, now)
            return None

    def _redis_failed(self, error: Exception, now: float) -> None:
        RATE_LIMIT_STORAGE_ERRORS.inc()
        self._redis_retry_at = now + REDIS_RETRY_SECONDS
        self._failures_unlogged += 1
        if now >= self._next_failure_log:
            log.warning(
                "rate-limit store unavailable; requests pass unchecked",
                storage=self.storage_description,
                error=type(error).__name__,
                failures_since_last_report=self._failures_unlogged,
                retry_in_seconds=REDIS_RETRY_SECONDS,
            )
            self._failures_unlogged = 0
            self._next_failure_log = now + FAILURE_LOG_INTERVAL_SECONDS


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The caller's address; X-Forwarded-For counts only when the peer is a trusted proxy.

    The header is read from the right: each trusted proxy appended the address it saw, so
    the first untrusted one is the client. Entries further left are the client's own claim.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


async def limit_by_subject(request: Request, limiter: RateLimiter, subject: str) -> None:
    """Count a bearer-authenticated request against its user's budget; called once the token
    is verified, so a forged token cannot spend someone else's allowance."""
    _enforce(request, await limiter.hit("tasks", subject))


async def limit_by_address(request: Request) -> None:
    """The sign-in routes' budget per client address, declared on each such route (a
    dependency): guessing passwords or registering in bulk costs the guesser, not a user."""
    limiter: RateLimiter = request.app.state.resources.rate_limiter
    address = client_address(request.scope, limiter.trusted_proxies)
    _enforce(request, await limiter.hit("auth", address))


def _enforce(request: Request, decision: LimitDecision | None) -> None:
    if decision is None:
        return
    # The request-context middleware adds the RateLimit-* headers from here.
    request.scope[SCOPE_KEY] = decision
    if not decision.allowed:
        raise RateLimitedError(headers={"Retry-After": str(decision.reset_seconds)})
