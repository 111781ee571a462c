"""Where live updates LISTEN, and the settings of `GET /events`."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.servers import serving
from todo_api.settings import SettingsError, load_settings

NEON_POOLED = (
    "postgresql://app:pw@ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech/todo"
    "?sslmode=require&channel_binding=require"
)


def test_a_neon_pooled_host_listens_on_its_direct_host() -> None:
    url = load_settings(_env_file=None, database_url=NEON_POOLED).listen_url
    assert url is not None
    assert url.host == "ep-cool-name-123456.eu-central-1.aws.neon.tech"
    # Everything else, TLS and channel binding included, is kept.
    assert url.query == {"sslmode": "require", "channel_binding": "require"}
    assert (url.username, url.password, url.database) == ("app", "pw", "todo")


def test_a_direct_host_listens_where_requests_go() -> None:
    direct = "postgresql://app:pw@db.internal:5433/todo"
    url = load_settings(_env_file=None, database_url=direct).listen_url
    assert url is not None
    assert (url.host, url.port, url.drivername) == ("db.internal", 5433, "postgresql+psycopg")


def test_database_listen_url_wins() -> None:
    settings = load_settings(
        _env_file=None,
        database_url="postgresql://app:pw@pgbouncer.internal/todo",
        database_listen_url="postgres://app:pw@primary.internal/todo",
    )
    assert settings.listen_url is not None
    assert settings.listen_url.host == "primary.internal"


def test_sqlite_has_no_listener() -> None:
    assert load_settings(_env_file=None, database_url="sqlite+aiosqlite:///x.db").listen_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("database_listen_url", "sqlite+aiosqlite:///x.db"),
        ("database_listen_url", "not a url"),
        ("events_heartbeat_seconds", "0"),
        ("events_max_streams_per_user", "0"),
    ],
)
def test_bad_live_update_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{name: value})
    assert any(line.startswith(name.upper()) for line in refused.value.lines)
    assert "pw" not in str(refused.value)


def test_the_defaults_are_the_contracts() -> None:
    settings = load_settings(_env_file=None)
    assert settings.events_heartbeat_seconds == 15
    assert settings.events_max_streams_per_user == 10
    assert settings.database_listen_url is None


async def test_a_declared_pooler_without_a_listen_url_is_warned_about(
    migrated_postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(migrated_postgres_url, db_pooled=True)
    async with serving(settings) as http:
        assert (await http.get("/health")).status_code == 200
    assert "cannot LISTEN" in capsys.readouterr().err
    direct = make_settings(
        migrated_postgres_url, db_pooled=True, database_listen_url=migrated_postgres_url
    )
    async with serving(direct) as http:
        assert (await http.get("/health")).status_code == 200
    assert "cannot LISTEN" not in capsys.readouterr().err
