"""How a database URL becomes driver settings: Neon and PgBouncer quirks, as documented."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import NEONLIKE_ENVS, make_settings
from todo_api.database import create_engine, postgres_connect_args

NEON_POOLED = (
    "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
    "/dbname?sslmode=require&channel_binding=require"
)
NEON_DIRECT = NEON_POOLED.replace("-pooler", "")


def connect_args(url: str, **settings: Any) -> dict[str, Any]:
    configured = make_settings(url, **settings)
    return postgres_connect_args(configured.sqlalchemy_url, configured)


def test_neon_url_keeps_sslmode_and_channel_binding() -> None:
    settings = make_settings(NEON_POOLED)
    query = settings.sqlalchemy_url.query
    assert query["sslmode"] == "require"
    assert query["channel_binding"] == "require"
    assert settings.sqlalchemy_url.drivername == "postgresql+psycopg"


def test_neon_pooler_gets_no_prepared_statements_and_no_startup_options() -> None:
    args = connect_args(NEON_POOLED)
    assert args["prepare_threshold"] is None
    assert "options" not in args


def test_direct_connection_prepares_and_sets_utc_and_a_statement_timeout() -> None:
    args = connect_args(NEON_DIRECT, db_statement_timeout_seconds=4)
    assert args["prepare_threshold"] == 5
    assert args["options"] == "-c timezone=UTC -c statement_timeout=4000"


def test_options_already_in_the_url_are_kept() -> None:
    args = connect_args(NEON_DIRECT + "&options=endpoint%3Dep-cool-darkness-123456")
    assert args["options"] == (
        "endpoint=ep-cool-darkness-123456 -c timezone=UTC -c statement_timeout=5000"
    )


@pytest.mark.parametrize(
    "declared", [{"db_pooled": True}, {"db_prepared_statements": False}], ids=str
)
def test_a_pgbouncer_that_is_not_a_neon_host_can_be_declared(declared: dict[str, Any]) -> None:
    args = connect_args("postgresql://app:pw@127.0.0.1:6432/app", **declared)
    assert args["prepare_threshold"] is None
    assert "options" not in args


def test_the_url_wins_over_defaults_and_keepalives_are_on() -> None:
    args = connect_args("postgresql://app@db/app?connect_timeout=17")
    assert "connect_timeout" not in args  # left to the URL's own value
    assert args["keepalives"] == 1
    assert args["tcp_user_timeout"] > 0


def test_neon_like_servers_are_configured() -> None:
    missing = [env for env in NEONLIKE_ENVS.values() if not os.environ.get(env)]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI must test the Neon-like setup: run .ci/neon-like ({', '.join(missing)})")
    if missing:
        pytest.skip(f'run `eval "$(sudo .ci/neon-like)"` to set {", ".join(missing)}')


@pytest.mark.skipif(not os.environ.get("TEST_NEONLIKE_URL"), reason="needs .ci/neon-like")
async def test_neon_style_url_connects_with_tls_and_channel_binding() -> None:
    url = os.environ["TEST_NEONLIKE_URL"]
    settings = make_settings(url)
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            assert driver.pgconn.ssl_in_use
            ssl = await connection.exec_driver_sql(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
            assert ssl.scalar_one() is True
    finally:
        await engine.dispose()
    # Without TLS the server refuses: nothing weaker than TLS + scram is accepted.
    plain = make_url(url).set(drivername="postgresql", query={"sslmode": "disable"})
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(plain.render_as_string(hide_password=False), connect_timeout=5)
