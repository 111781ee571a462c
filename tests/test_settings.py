"""Configuration is validated at start-up with one readable message per bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from todo_api.settings import Settings, SettingsError, load_settings, normalize_database_url

PLAIN_HTTP_JWKS_URL = "http://auth.example.com/api/auth/jwks"


def load(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def messages(**values: object) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(**values)
    return caught.value.lines


def test_defaults_work_for_a_new_user() -> None:
    settings = load()
    assert settings.sqlalchemy_url.get_backend_name() == "sqlite"
    assert settings.uses_insecure_secret
    assert settings.allowed_algorithms == ["HS256"]
    assert settings.max_body_bytes == 1_048_576
    assert settings.effective_log_format == "console"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        (
            "postgresql://u:p@ep-x-pooler.neon.tech/db?sslmode=require&channel_binding=require",
            "postgresql+psycopg://u:p@ep-x-pooler.neon.tech/db"
            "?channel_binding=require&sslmode=require",
        ),
        ("sqlite:///./todo.db", "sqlite+aiosqlite:///./todo.db"),
    ],
)
def test_database_urls_are_normalised_keeping_ssl_parameters(raw: str, expected: str) -> None:
    assert normalize_database_url(raw).render_as_string(hide_password=False) == expected


def test_each_bad_value_gets_its_own_line() -> None:
    lines = messages(
        max_body_bytes=0,
        jwt_algorithms="HS256,none",
        rate_limit_tasks="lots",
        database_url="mysql://x/y",
    )
    joined = "\n".join(lines)
    assert len(lines) == 4
    assert "MAX_BODY_BYTES" in joined
    assert "JWT_ALGORITHMS" in joined
    assert "none" in joined
    assert "RATE_LIMIT_TASKS" in joined
    assert "DATABASE_URL" in joined


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"jwt_secret": "x" * 40}, "DATABASE_URL"),
        ({"database_url": "postgresql://db/x"}, "JWT_SECRET"),
        ({"database_url": "postgresql://db/x", "jwt_secret": "short"}, "32 bytes"),
        (
            {"database_url": "postgresql://db/x", "jwt_secret": "x" * 40, "cors_origins": "*"},
            "CORS_ORIGINS",
        ),
        (
            {
                "database_url": "postgresql://db/x",
                "jwt_secret": "x" * 40,
                "jwt_jwks_url": PLAIN_HTTP_JWKS_URL,
            },
            "JWT_JWKS_URL: production needs an https:// URL",
        ),
        (
            {"database_url": "postgresql://db/x", "jwt_secret": "x" * 40, "jwt_jwks_url": "//x"},
            "JWT_JWKS_URL: production needs an https:// URL",
        ),
    ],
)
def test_production_refuses_unsafe_settings(values: dict[str, object], complaint: str) -> None:
    lines = messages(environment="production", **values)
    assert any(complaint in line for line in lines)


def test_production_accepts_safe_settings() -> None:
    settings = load(
        environment="production",
        database_url="postgresql://db/x",
        jwt_secret="x" * 32,
        jwt_jwks_url="HTTPS://auth.example.com/api/auth/jwks",
    )
    assert settings.effective_log_format == "json"
    assert not settings.uses_insecure_secret


def test_comma_separated_lists() -> None:
    settings = load(
        cors_origins="https://a.example, https://b.example",
        jwt_algorithms="EdDSA,RS256",
    )
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.allowed_algorithms == ["EdDSA", "RS256"]


def test_settings_sit_at_the_bottom_of_the_imports() -> None:
    # Settings validate JWT_ALGORITHMS without the token code: no cycle through auth.
    check = (
        "import sys\n"
        "from todo_api.settings import load_settings\n"
        "load_settings(_env_file=None, jwt_algorithms='HS256,EdDSA')\n"
        "loaded = [name for name in sys.modules if name.startswith('todo_api.')]\n"
        "assert loaded == ['todo_api.settings'], loaded\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


def test_retry_and_sync_settings_default_to_the_contract_and_refuse_nonsense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(_env_file=None)
    assert settings.idempotency_key_ttl_seconds == 86_400
    assert settings.sync_tombstone_days == 30
    monkeypatch.setenv("IDEMPOTENCY_KEY_TTL_SECONDS", "600")
    monkeypatch.setenv("SYNC_TOMBSTONE_DAYS", "7")
    from_environment = load_settings(_env_file=None)
    assert from_environment.idempotency_key_ttl_seconds == 600
    assert from_environment.sync_tombstone_days == 7
    bad = messages(idempotency_key_ttl_seconds=0, sync_tombstone_days="never")
    assert [line.split(":")[0] for line in bad] == [
        "IDEMPOTENCY_KEY_TTL_SECONDS",
        "SYNC_TOMBSTONE_DAYS",
    ]


STRONG = "k" * 32
HTTPS_JWKS_URL = "https://auth.example.com/api/auth/jwks"


def test_the_server_secret_defaults_to_the_jwt_secret() -> None:
    assert load(jwt_secret=STRONG).server_secret_or_default == STRONG
    assert load(jwt_secret=STRONG, server_secret="s" * 32).server_secret_or_default == "s" * 32
    # Development's fixed fallback, like JWT_SECRET's; elsewhere nothing (a random key each).
    assert load().server_secret_or_default == load().signing_secret
    assert load(environment="staging").server_secret_or_default is None


def test_a_server_secret_has_at_least_32_bytes_everywhere() -> None:
    assert messages(server_secret="s" * 31) == ["SERVER_SECRET: must be at least 32 bytes"]
    # Bytes, not characters: 16 two-byte characters are enough.
    assert load(server_secret="é" * 16).server_secret_or_default == "é" * 16
    assert load(server_secret="").server_secret is None


def test_production_with_an_outside_issuer_needs_only_the_server_secret() -> None:
    production = {"environment": "production", "database_url": "postgresql://u@h/db"}
    settings = load(**production, server_secret=STRONG, jwt_jwks_url=HTTPS_JWKS_URL)
    assert settings.signing_secret is None
    assert settings.server_secret_or_default == STRONG
    assert messages(**production, jwt_jwks_url=HTTPS_JWKS_URL) == [
        "SERVER_SECRET: production needs a secret that every instance shares, to sign list "
        "cursors and sync tokens (SERVER_SECRET, or else JWT_SECRET)"
    ]
    assert load(**production, jwt_secret=STRONG).server_secret_or_default == STRONG
