"""SERVER_SECRET: instances that share it accept each other's list cursors and sync tokens,
even when tokens come from an outside issuer only and no JWT_SECRET is set."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.jwks_server import IssuerKey, JwksServer
from tests.servers import clean_environment, running_servers

SERVER_SECRET = "shared-by-every-instance-" + "s" * 16


@pytest.mark.server
@pytest.mark.parametrize("shared", [True, False], ids=["one-server-secret", "no-secret"])
def test_a_cursor_and_a_sync_token_made_by_one_instance_work_on_another(
    database_url: str, jwks_server: JwksServer, tmp_path: Path, shared: bool
) -> None:
    key = IssuerKey.generate("EdDSA")
    jwks_server.publish(key)
    settings = {
        # Not development, whose fixed fallback secret would make any two instances agree.
        "ENVIRONMENT": "staging",
        "DATABASE_URL": database_url,
        "JWT_JWKS_URL": jwks_server.url,
        "LOG_FORMAT": "json",
    }
    if shared:
        settings["SERVER_SECRET"] = SERVER_SECRET
    headers = {"Authorization": f"Bearer {key.sign({'sub': f'secret-{uuid.uuid4().hex}'})}"}
    env = clean_environment(**settings)
    with (
        running_servers(tmp_path, env, "--no-migrate", count=2) as (first, second),
        httpx.Client(headers=headers, timeout=10) as http,
    ):
        for title in ("one", "two", "three"):
            assert http.post(f"{first.url}/tasks", json={"title": title}).status_code == 201
        page = http.get(f"{first.url}/tasks", params={"limit": 2, "sort": "title"}).json()
        synced = http.get(f"{first.url}/tasks/changes").json()
        assert http.post(f"{first.url}/tasks", json={"title": "four"}).status_code == 201

        next_page = http.get(
            f"{second.url}/tasks",
            params={"limit": 2, "sort": "title", "cursor": page["next_cursor"]},
        )
        changes = http.get(f"{second.url}/tasks/changes", params={"since": synced["next_since"]})
        if not shared:
            # Each process signs with a random key of its own: the other refuses.
            assert next_page.status_code == 422
            assert changes.status_code == 422
            assert "Neither SERVER_SECRET nor JWT_SECRET is set" in first.log()
            return
        assert next_page.status_code == 200, next_page.text
        assert [task["title"] for task in next_page.json()["items"]] == ["two"]
        assert changes.status_code == 200, changes.text
        assert [task["title"] for task in changes.json()["tasks"]] == ["four"]
    assert SERVER_SECRET not in first.log() + second.log()
