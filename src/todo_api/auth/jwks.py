"""Public keys of outside issuers, fetched from a JWKS document and picked by `kid`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Set
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import jwt
import structlog
from jwt import PyJWK, PyJWKClient, PyJWKSet

from todo_api.auth.tokens import InvalidTokenError, KeySourceUnavailableError
from todo_api.settings import ASYMMETRIC_ALGORITHMS, Settings, SettingsError

log = structlog.get_logger(__name__)

# The key type (and curve) each algorithm family needs. A JWK is only ever used with the
# algorithm its own `alg` (or, without one, its type and curve) names, so the token header
# cannot choose how a key is interpreted.
_KEY_TYPES = {"EdDSA": "OKP", "ES": "EC", "RS": "RSA", "PS": "RSA"}
MAX_KID_LENGTH = 256
# The periodic refresh never runs more often than this, whatever JWT_JWKS_CACHE_SECONDS and
# JWT_JWKS_REFETCH_INTERVAL_SECONDS say (0 is allowed for them).
MIN_REFRESH_DELAY_SECONDS = 1.0


class Clock(Protocol):
    """The time the key table ages by, and the sleep the periodic refresh waits on."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


REAL_CLOCK = MonotonicClock()


def _key_type_for(algorithm: str) -> str | None:
    return _KEY_TYPES.get(algorithm) or _KEY_TYPES.get(algorithm[:2])


def _usable_keys(jwk_set: PyJWKSet) -> dict[str, PyJWK]:
    """The signing keys of a JWKS document by `kid`; others are left out, not trusted."""
    keys: dict[str, PyJWK] = {}
    for key in jwk_set.keys:
        kid = key.key_id
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        if key.public_key_use not in ("sig", None):
            continue
        # Symmetric ("oct") keys have no place in a public document; weak RSA keys are refused.
        if key.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            continue
        if key.key_type != _key_type_for(key.algorithm_name):
            continue
        if key.Algorithm.check_key_length(key.key) is not None:
            continue
        keys[kid] = key
    return keys


class JwksKeySource:
    """A `PublicKeySource` over PyJWT's `PyJWKClient`, with its own cache and fetch limits.

    PyJWKClient is synchronous, so fetches run in a dedicated one-thread executor, bounded by
    `asyncio.timeout`: a hanging issuer ties up that thread only, never the event loop or
    the thread pool the rest of the service shares. Its own caches are not used: its per-kid
    cache never expires, so a key removed from the JWKS would stay trusted until a restart,
    and its unknown-kid refetch is not rate limited when the issuer is down.

    Here the key table mirrors the latest JWKS document. It is fetched again when it is older
    than `cache_seconds` (by a background task, so that a withdrawn key is noticed even while
    every token in use is already verified and cached) or when a token names an unknown `kid`;
    but at most once every `refetch_interval` seconds, and by one caller at a time: a flood of
    made-up kids costs at most one fetch per interval. Each fetch tells the listeners which
    kids the new document dropped, so the tokens they signed stop being accepted at once.
    While the issuer is unreachable, the keys already known keep working, so an outage of the
    issuer does not sign everyone out.
    """

    def __init__(
        self,
        client: PyJWKClient,
        *,
        cache_seconds: float,
        refetch_interval: float,
        timeout: float,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        self._client = client
        self._cache_seconds = cache_seconds
        self._refetch_interval = refetch_interval
        # urllib's timeout applies to each socket operation; this bounds the whole fetch.
        self._timeout = timeout + 1.0
        # The table ages, and the periodic refresh sleeps, by this clock; the fetch timeout
        # above stays in real time, as it bounds real network I/O.
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._last_attempt_failed = False
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        self._withdrawal_listeners: list[Callable[[Set[str]], None]] = []
        self._refresher: asyncio.Task[None] | None = None

    def on_withdrawn(self, forget: Callable[[Set[str]], None]) -> None:
        self._withdrawal_listeners.append(forget)

    def start(self) -> None:
        """Refresh the table in the background from now on; `aclose` stops it."""
        self._refresher = asyncio.create_task(self._refresh_forever(), name="jwks-refresh")

    async def key_for(self, token: str, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise InvalidTokenError("kid")
        key = self._keys.get(kid)
        if key is None or self._stale():
            key = await self._refresh_for(kid, known=key)
        if key.algorithm_name != header.get("alg"):
            raise InvalidTokenError("algorithm")
        return key

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def refresh(self) -> None:
        """Fetch the document again if the table is stale, unless a fetch is too recent."""
        async with self._lock:
            if self._stale() and self._may_fetch():
                await self._fetch()

    async def _refresh_forever(self) -> None:
        while True:
            await self._clock.sleep(self._next_refresh_delay())
            # Keys are fetched on first use; until then there is nothing to keep fresh.
            if self._loaded_at is not None:
                await self.refresh()

    def _next_refresh_delay(self) -> float:
        if self._loaded_at is None:
            delay = self._cache_seconds
        elif self._last_attempt_failed:
            # The issuer was down at the last attempt: try again at the pace that
            # unknown kids are allowed to cause fetches.
            delay = self._refetch_interval
        else:
            delay = self._loaded_at + self._cache_seconds - self._clock.monotonic()
        return max(delay, MIN_REFRESH_DELAY_SECONDS)

    def _stale(self) -> bool:
        return (
            self._loaded_at is None
            or self._clock.monotonic() - self._loaded_at >= self._cache_seconds
        )

    def _may_fetch(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock.monotonic() - self._attempted_at >= self._refetch_interval
        )

    async def _refresh_for(self, kid: str, known: PyJWK | None) -> PyJWK:
        if known is not None and self._lock.locked():
            # Another request is already refreshing the table; a known key need not wait.
            return known
        async with self._lock:
            # The request that held the lock may have fetched the very key this one needs.
            key = self._keys.get(kid)
            if key is not None and not self._stale():
                return key
            if self._may_fetch():
                await self._fetch()
                key = self._keys.get(kid)
            if key is not None:
                return key
            if self._last_attempt_failed:
                raise KeySourceUnavailableError
            raise InvalidTokenError("unknown_kid")

    async def _fetch(self) -> None:
        self._attempted_at = self._clock.monotonic()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                jwk_set = await loop.run_in_executor(self._executor, self._client.get_jwk_set, True)
            keys = _usable_keys(jwk_set)
        except Exception as error:
            # Whatever an outside document or network does (refused, timed out, not JSON,
            # no usable key), it means "no keys right now", never a 500.
            self._last_attempt_failed = True
            log.warning("JWKS fetch failed", error=type(error).__name__)
            return
        withdrawn = self._keys.keys() - keys.keys()
        self._keys = keys
        self._loaded_at = self._clock.monotonic()
        self._last_attempt_failed = False
        log.info("JWKS fetched", keys=len(keys), withdrawn=len(withdrawn))
        if withdrawn:
            for forget in self._withdrawal_listeners:
                forget(withdrawn)


def create_jwks_key_source(settings: Settings, clock: Clock = REAL_CLOCK) -> JwksKeySource | None:
    """The key source for JWT_JWKS_URL, or None when no outside issuer is configured."""
    if settings.jwt_jwks_url is None:
        return None
    try:
        # The JWK set cache is off: JwksKeySource keeps its own, with its own limits.
        client = PyJWKClient(
            settings.jwt_jwks_url,
            cache_jwk_set=False,
            timeout=settings.jwt_jwks_timeout_seconds,
        )
    except jwt.PyJWKClientError:
        raise SettingsError(["JWT_JWKS_URL: must be an http:// or https:// URL"]) from None
    return JwksKeySource(
        client,
        cache_seconds=settings.jwt_jwks_cache_seconds,
        refetch_interval=settings.jwt_jwks_refetch_interval_seconds,
        timeout=settings.jwt_jwks_timeout_seconds,
        clock=clock,
    )
