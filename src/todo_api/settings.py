"""Typed, validated configuration read from the environment and a `.env` file."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

# Used only in development when JWT_SECRET is unset; the app logs a loud warning at start.
INSECURE_DEVELOPMENT_SECRET = "insecure-development-secret-do-not-use-in-production"  # noqa: S105
MIN_PRODUCTION_SECRET_BYTES = 32
MIN_SERVER_SECRET_BYTES = 32
DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./todo.db"

CommaList = Annotated[list[str], NoDecode]

# The JWT algorithms JWT_ALGORITHMS may name; auth/tokens.py and auth/jwks.py apply them.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    environment: Literal["development", "staging", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    # Optional direct (non-pooled) URL for `todo-api migrate`, e.g. Neon's host without -pooler.
    database_migration_url: str | None = None
    # The direct (non-pooled) URL that live updates LISTEN on: a transaction pooler hands each
    # transaction to any server connection, so a LISTEN through it hears nothing. Unset:
    # DATABASE_URL, with a Neon `-pooler` host turned into its direct host (`listen_url`).
    database_listen_url: str | None = None
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_max_overflow: int = Field(default=0, ge=0, le=1000)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Server-side limit: a startup option on direct connections, SET LOCAL with each
    # statement through a pooler.
    db_statement_timeout_seconds: float | None = Field(default=5.0, gt=0, le=600)
    # Client-side bound on one request's database work (checkout, statements, commit): past
    # it the connection is cut and the request answers 503, even if the network drops packets.
    db_request_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # A pooled connection idle for longer than this is pinged before use; busier ones are
    # trusted, so the hot path pays no extra round trip. 0 pings on every checkout.
    db_ping_after_idle_seconds: float = Field(default=1.0, ge=0)
    # Recycle below Neon's idle compute and pooler timeouts so no request meets a dead socket.
    db_pool_recycle_seconds: int = Field(default=240, ge=1)
    db_startup_wait_seconds: float = Field(default=30.0, ge=0, le=600)
    # The URL points at a transaction-mode pooler (PgBouncer): no server-side prepared
    # statements, no startup `options`. None means "decide from the URL, else on connect":
    # Neon's `-pooler` hosts are pooled, so is any URL used with DB_PREPARED_STATEMENTS=false,
    # and so is an endpoint that refuses or drops the startup `options`.
    db_pooled: bool | None = None
    # None means "off when pooled, on otherwise".
    db_prepared_statements: bool | None = None

    # Signs what the service hands out and takes back (list cursors, sync tokens) and keys
    # its HMACs (login throttle, log user references): the same on every instance, so each
    # accepts the others'. Unset, JWT_SECRET serves (see `server_secret_or_default`).
    server_secret: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: CommaList = Field(default_factory=list)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=3600)
    jwt_jwks_cache_seconds: int = Field(default=300, ge=0)
    jwt_jwks_refetch_interval_seconds: float = Field(default=5.0, ge=0)
    jwt_jwks_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    access_token_expire_minutes: int = Field(default=30, ge=1, le=60 * 24 * 30)
    auth_registration_enabled: bool = True

    rate_limit_tasks: str = "600/minute"
    rate_limit_auth: str = "10/minute"
    # Failed sign-ins allowed per email (whether or not an account has it) before 429.
    rate_limit_login_failures: str = "5/15minutes"
    redis_url: str | None = None
    trusted_proxies: CommaList = Field(default_factory=list)
    cors_origins: CommaList = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    # How long a stored response answers a repeated Idempotency-Key (API.md: 24 hours).
    idempotency_key_ttl_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)
    # How long deletions are remembered for /tasks/changes; older sync tokens are 410.
    sync_tombstone_days: int = Field(default=30, ge=1, le=3650)
    # Serve CalDAV under /dav/ and /.well-known/caldav.
    dav_enabled: bool = True

    # Live updates (GET /events): a comment line at least this often keeps proxies from
    # closing an idle stream, and finds clients that left; streams per user and instance.
    events_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    events_max_streams_per_user: int = Field(default=10, ge=1, le=1000)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] | None = None

    @field_validator("jwt_algorithms", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "log_format",
        "jwt_jwks_url",
        "jwt_issuer",
        "jwt_audience",
        "redis_url",
        "database_migration_url",
        "database_listen_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("jwt_secret", "server_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("server_secret")
    @classmethod
    def _long_server_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SERVER_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SERVER_SECRET_BYTES} bytes")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            # The URL is not echoed: it may hold a password.
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        normalize_database_url(value)
        return value

    @field_validator("database_listen_url")
    @classmethod
    def _valid_listen_url(cls, value: str | None) -> str | None:
        if value is not None and normalize_database_url(value).get_backend_name() != "postgresql":
            raise ValueError("expected a postgresql:// URL (live updates LISTEN on PostgreSQL)")
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        unknown = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if unknown:
            raise ValueError(
                f"unsupported algorithm(s) {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))}"
            )
        return value

    @field_validator("rate_limit_tasks", "rate_limit_auth", "rate_limit_login_failures")
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit such as '600/minute': {value!r}") from None
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment != "production":
            return self
        problems = []
        if self.sqlalchemy_url.get_backend_name() == "sqlite":
            problems.append("DATABASE_URL: production needs PostgreSQL, not SQLite")
        if self.server_secret is None and self.jwt_secret is None:
            problems.append(
                "SERVER_SECRET: production needs a secret that every instance shares, to sign "
                "list cursors and sync tokens (SERVER_SECRET, or else JWT_SECRET)"
            )
        if self.jwt_secret is None and self.jwt_jwks_url is None:
            problems.append(
                "JWT_SECRET: production needs a token issuer: JWT_SECRET (built-in accounts, "
                "HS256) or JWT_JWKS_URL (an outside issuer)"
            )
        if (
            self.jwt_secret is not None
            and len(self.jwt_secret.get_secret_value().encode()) < MIN_PRODUCTION_SECRET_BYTES
        ):
            problems.append(
                f"JWT_SECRET: production needs at least {MIN_PRODUCTION_SECRET_BYTES} bytes"
            )
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS: production refuses the wildcard origin '*'")
        if self.jwt_jwks_url is not None and urlsplit(self.jwt_jwks_url).scheme.lower() != "https":
            # Over plain HTTP anyone on the path could substitute their own keys.
            problems.append("JWT_JWKS_URL: production needs an https:// URL")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def sqlalchemy_url(self) -> URL:
        return normalize_database_url(self.database_url)

    @cached_property
    def migration_url(self) -> URL:
        return normalize_database_url(self.database_migration_url or self.database_url)

    @cached_property
    def listen_url(self) -> URL | None:
        """Where live updates LISTEN: DATABASE_LISTEN_URL, else DATABASE_URL with a Neon
        pooled host (`ep-x-pooler.region...`) turned into its direct host (`ep-x.region...`);
        None on SQLite, whose changes are fanned out in process."""
        if self.database_listen_url is not None:
            return normalize_database_url(self.database_listen_url)
        url = self.sqlalchemy_url
        if url.get_backend_name() != "postgresql":
            return None
        first, dot, rest = (url.host or "").partition(".")
        if first.endswith("-pooler"):
            return url.set(host=first.removesuffix("-pooler") + dot + rest)
        return url

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "console" if self.environment == "development" else "json"

    @property
    def signing_secret(self) -> str | None:
        """The HS256 secret: configured, or the insecure fallback in development only."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.environment == "development":
            return INSECURE_DEVELOPMENT_SECRET
        return None

    @property
    def server_secret_or_default(self) -> str | None:
        """SERVER_SECRET, else what JWT_SECRET falls back to (`signing_secret`); None leaves
        each process a random key of its own."""
        if self.server_secret is not None:
            return self.server_secret.get_secret_value()
        return self.signing_secret

    @property
    def uses_insecure_secret(self) -> bool:
        return self.jwt_secret is None and self.environment == "development"

    @property
    def allowed_algorithms(self) -> list[str]:
        if self.jwt_algorithms:
            return self.jwt_algorithms
        algorithms = ["HS256"] if self.signing_secret is not None else []
        if self.jwt_jwks_url is not None:
            algorithms += ["EdDSA", "ES256", "RS256"]
        return algorithms


def normalize_database_url(raw: str) -> URL:
    """Accept SQLAlchemy URLs and plain `postgres://` URLs as copied from Neon or Heroku.

    PostgreSQL goes through psycopg 3: it runs on libpq, so Neon's `sslmode=require` and
    `channel_binding=require` are honoured as given instead of being dropped.
    """
    try:
        url = make_url(raw)
    except Exception:
        raise ValueError(
            "not a database URL (expected postgresql://... or sqlite+aiosqlite:///...)"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use PostgreSQL or SQLite")


class SettingsError(Exception):
    """Configuration is invalid; `lines` holds one readable message per bad value."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for item in error.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in item["loc"]).upper()
            message = item["msg"].removeprefix("Value error, ")
            if name:
                lines.append(f"{name}: {message}")
            else:
                lines.extend(message.split("; "))
        raise SettingsError(lines) from None
