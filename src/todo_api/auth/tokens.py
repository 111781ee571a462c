"""Bearer token verification (RFC 8725 rules) and minting of the service's own tokens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt

from todo_api.lengths import SUBJECT_MAX_LENGTH
from todo_api.settings import HMAC_ALGORITHMS, Settings

MAX_BEARER_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 4096


class InvalidTokenError(Exception):
    """The token is not acceptable; `reason` is a short label for logs and metrics only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySourceUnavailableError(Exception):
    """The JWKS document could not be fetched; clients get 503, not 500."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made the request: `subject` owns tasks; `email` is informative only."""

    subject: str
    email: str | None = None


class PublicKeySource(Protocol):
    """Where asymmetric verification keys come from (a JWKS document), by `kid`."""

    async def key_for(self, token: str, header: dict[str, Any]) -> Any: ...

    def on_withdrawn(self, forget: Callable[[Set[str]], None]) -> None:
        """Call `forget` with the kids that a newly fetched document no longer has."""


class TokenVerifier:
    def __init__(
        self,
        settings: Settings,
        public_keys: PublicKeySource | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = settings.signing_secret
        self._algorithms = frozenset(settings.allowed_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._public_keys = public_keys
        self._clock = clock
        # Verified tokens, with the time they stop being acceptable and the `kid` of the
        # JWKS key that signed them (None for HMAC). A token's claims cannot change, so a
        # repeat request skips the signature check. A key withdrawn from the JWKS is how an
        # operator answers a leaked signing key, so its tokens are dropped from here as soon
        # as a fetched document lacks it, rather than trusted until their `exp`.
        self._verified: dict[str, tuple[Principal, float, str | None]] = {}
        # Bumped by each withdrawal: a verification that was under way when keys were
        # withdrawn is not cached, in case its key was one of them.
        self._withdrawals = 0
        if public_keys is not None:
            public_keys.on_withdrawn(self._forget_tokens_of)

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, valid_until, _ = cached
            if self._clock() < valid_until:
                return principal
            # Past `exp` and the leeway: what the signature check would say, without it.
            del self._verified[token]
            raise InvalidTokenError("expired")
        withdrawals = self._withdrawals
        principal, valid_until, kid = await self._verify(token)
        if withdrawals == self._withdrawals:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = (principal, valid_until, kid)
        return principal

    def _forget_tokens_of(self, kids: Set[str]) -> None:
        # A scan of at most VERIFIED_CACHE_SIZE entries, only when a key is withdrawn: the
        # request path keeps its single dict look-up.
        self._withdrawals += 1
        self._verified = {
            token: entry for token, entry in self._verified.items() if entry[2] not in kids
        }

    async def _verify(self, token: str) -> tuple[Principal, float, str | None]:
        if not token or len(token) > MAX_BEARER_TOKEN_LENGTH:
            raise InvalidTokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise InvalidTokenError("algorithm")
        key = await self._key_for(token, header, algorithm)
        claims = self._decode(token, key, algorithm)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX_LENGTH:
            raise InvalidTokenError("subject")
        email = claims.get("email")
        principal = Principal(subject=subject, email=email if isinstance(email, str) else None)
        kid = None if algorithm in HMAC_ALGORITHMS else header.get("kid")
        return principal, float(claims["exp"]) + self._leeway, kid

    async def _key_for(self, token: str, header: dict[str, Any], algorithm: str) -> Any:
        # The key type follows from the algorithm, never from the token: an HMAC token is
        # only checked against the shared secret, so a public key can never act as one.
        if algorithm in HMAC_ALGORITHMS:
            if self._secret is None:
                raise InvalidTokenError("algorithm")
            return self._secret
        if self._public_keys is None:
            raise InvalidTokenError("algorithm")
        return await self._public_keys.key_for(token, header)

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("issuer") from None
        except jwt.MissingRequiredClaimError:
            raise InvalidTokenError("missing_claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("signature") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("malformed") from None


def issue_token(
    settings: Settings,
    subject: str,
    *,
    minutes: int | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Mint an HS256 token with the configured secret; returns it and its lifetime in seconds."""
    secret = settings.signing_secret
    if secret is None:
        raise RuntimeError("JWT_SECRET is not configured")
    lifetime = timedelta(minutes=minutes or settings.access_token_expire_minutes)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        **(extra_claims or {}),
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256"), int(lifetime.total_seconds())
