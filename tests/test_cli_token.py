"""`todo-api token --sub ID [--minutes N]`, run as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from tests.conftest import TEST_SECRET, bearer

TODO_API = str(Path(sys.executable).parent / "todo-api")


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment in an empty folder, so no .env or outer JWT_* setting leaks in.
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JWT_")}
    return subprocess.run(
        [TODO_API, "token", *args],
        cwd=tmp_path,
        env={**clean, "ENVIRONMENT": "development", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_minted_token_is_accepted_for_its_subject(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, "--sub", "ops-user", "--minutes", "7", JWT_SECRET=TEST_SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ops-user"
    assert claims["exp"] - claims["iat"] == 7 * 60
    response = await client.get("/auth/me", headers=bearer(token))
    assert response.json() == {"id": "ops-user", "email": None}


async def test_a_token_from_another_secret_is_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, "--sub", "ops-user", JWT_SECRET="another-secret-" + "x" * 32)
    assert result.returncode == 0, result.stderr
    response = await client.get("/auth/me", headers=bearer(result.stdout.strip()))
    assert response.status_code == 401


def test_sub_is_required(tmp_path: Path) -> None:
    result = run_cli(tmp_path, JWT_SECRET=TEST_SECRET)
    assert result.returncode == 2
    assert "--sub" in result.stderr


def test_a_bad_configuration_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "--sub", "x", ENVIRONMENT="production", DATABASE_URL="sqlite:///x.db"
    )
    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
