"""`todo-api serve` refuses an unsafe production configuration, one readable line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import clean_environment, run_cli

POSTGRES = "postgresql://todo@127.0.0.1:1/todo"
STRONG_SECRET = "p" * 32


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DATABASE_URL": "sqlite+aiosqlite:///./todo.db", "JWT_SECRET": STRONG_SECRET},
            "DATABASE_URL: production needs PostgreSQL, not SQLite",
        ),
        ({"DATABASE_URL": POSTGRES}, "SERVER_SECRET: production needs a secret"),
        (
            {"DATABASE_URL": POSTGRES, "SERVER_SECRET": STRONG_SECRET},
            "JWT_SECRET: production needs a token issuer",
        ),
        (
            {"DATABASE_URL": POSTGRES, "JWT_SECRET": STRONG_SECRET, "SERVER_SECRET": "p" * 31},
            "SERVER_SECRET: must be at least 32 bytes",
        ),
        (
            {"DATABASE_URL": POSTGRES, "JWT_SECRET": "p" * 31},
            "JWT_SECRET: production needs at least 32 bytes",
        ),
        (
            {"DATABASE_URL": POSTGRES, "JWT_SECRET": STRONG_SECRET, "CORS_ORIGINS": "*"},
            "CORS_ORIGINS: production refuses the wildcard origin '*'",
        ),
        (
            {
                "DATABASE_URL": POSTGRES,
                "JWT_SECRET": STRONG_SECRET,
                "JWT_JWKS_URL": "http://auth.example.com/api/auth/jwks",
            },
            "JWT_JWKS_URL: production needs an https:// URL",
        ),
    ],
    ids=[
        "sqlite",
        "missing-secret",
        "no-issuer",
        "short-server-secret",
        "short-secret",
        "wildcard-cors",
        "http-jwks",
    ],
)
def test_production_refuses_to_start(env: dict[str, str], message: str, tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, clean_environment(ENVIRONMENT="production", **env), "serve", "--port", "1"
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert STRONG_SECRET not in result.stderr


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    env = {"ENVIRONMENT": "production", "DATABASE_URL": "sqlite:///x.db", "CORS_ORIGINS": "*"}
    result = run_cli(tmp_path, clean_environment(**env), "serve")
    assert result.returncode == 2
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in problems] == [
        "DATABASE_URL",
        "SERVER_SECRET",
        "JWT_SECRET",
        "CORS_ORIGINS",
    ]


def test_bad_operational_settings_are_refused_readably(tmp_path: Path) -> None:
    env = {
        "TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip",
        "REDIS_URL": "http://:hunter2@example.com",
        "RATE_LIMIT_TASKS": "lots",
    }
    result = run_cli(tmp_path, clean_environment(**env), "serve")
    assert result.returncode == 2
    assert "TRUSTED_PROXIES: not an IP address or network: 'not-an-ip'" in result.stderr
    assert "REDIS_URL: expected a redis://" in result.stderr
    assert "RATE_LIMIT_TASKS: not a rate limit" in result.stderr
    assert "hunter2" not in result.stderr
