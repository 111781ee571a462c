"""Outside issuers' live JWKS over time: key rotation, fetch limits, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import assert_problem, open_client
from tests.jwks_server import IssuerKey, JwksServer, unresponsive_endpoint
from tests.test_jwks import (
    ORIGIN,
    PROMPT_SECONDS,
    FakeClock,
    app,
    clock,
    issued,
    jwks_settings,
    me,
    run_due_refreshes,
    settings,
)
from todo_api.app import create_app
from todo_api.settings import Settings

__all__ = ["app", "clock", "jwks_settings", "settings"]  # fixtures used by the tests below


class TestRotation:
    async def test_a_new_key_is_picked_up_without_a_restart(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        old, new = IssuerKey.generate("EdDSA"), IssuerKey.generate("ES256")
        jwks_server.publish(old)
        app = create_app(jwks_settings(jwt_jwks_refetch_interval_seconds=0.2), jwks_clock=clock)
        async with open_client(app) as client:
            assert (await me(client, issued(old))).status_code == 200
            jwks_server.publish(old, new)
            clock.advance(0.2)
            assert (await me(client, issued(new))).status_code == 200
            assert (await me(client, issued(old))).status_code == 200
            assert jwks_server.fetches == 2

    async def test_a_key_removed_from_the_jwks_stops_working(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        old, new = IssuerKey.generate("EdDSA"), IssuerKey.generate("EdDSA")
        jwks_server.publish(old)
        app = create_app(
            jwks_settings(jwt_jwks_cache_seconds=1, jwt_jwks_refetch_interval_seconds=0.2),
            jwks_clock=clock,
        )
        async with open_client(app) as client:
            assert (await me(client, issued(old))).status_code == 200
            jwks_server.publish(new)
            await run_due_refreshes(clock, 1)
            assert_problem(await me(client, issued(old)), 401)
            assert (await me(client, issued(new))).status_code == 200

    async def test_a_withdrawn_key_revokes_its_already_accepted_tokens_within_seconds(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        leaked, kept = IssuerKey.generate("EdDSA"), IssuerKey.generate("ES256")
        jwks_server.publish(leaked, kept)
        app = create_app(
            jwks_settings(jwt_jwks_cache_seconds=1, jwt_jwks_refetch_interval_seconds=0.2),
            jwks_clock=clock,
        )
        async with open_client(app) as client:
            leaked_token, kept_token = issued(leaked), issued(kept)
            for _ in range(3):
                assert (await me(client, leaked_token)).status_code == 200
                assert (await me(client, kept_token)).status_code == 200
            jwks_server.publish(kept)
            # Nothing names an unknown kid: only the periodic refresh can notice the removal,
            # and it does once the cache (1 s here) has aged.
            await run_due_refreshes(clock, 1)
            response = await me(client, leaked_token)
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert (await me(client, kept_token)).status_code == 200
            assert (await me(client, issued(kept))).status_code == 200
            # It stays refused: the verified-token cache does not bring it back.
            assert_problem(await me(client, leaked_token), 401)

    async def test_the_periodic_refresh_runs_without_requests_and_keeps_keys_when_down(
        self,
        jwks_settings: Callable[..., Settings],
        jwks_server: JwksServer,
        clock: FakeClock,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.publish(key)
        app = create_app(
            jwks_settings(jwt_jwks_cache_seconds=1, jwt_jwks_refetch_interval_seconds=0.2),
            jwks_clock=clock,
        )
        async with open_client(app) as client:
            token = issued(key)
            assert (await me(client, token)).status_code == 200
            await run_due_refreshes(clock, 1)
            assert jwks_server.fetches == 2
            jwks_server.stop()
            await run_due_refreshes(clock, 1)
            assert "JWKS fetch failed" in capsys.readouterr().err
            # An unreachable issuer withdraws nothing.
            assert (await me(client, token)).status_code == 200
            assert (await me(client, issued(key))).status_code == 200

    async def test_keys_are_cached_between_requests(
        self, client: httpx.AsyncClient, jwks_server: JwksServer
    ) -> None:
        key = IssuerKey.generate("RS256")
        jwks_server.publish(key)
        for _ in range(20):
            assert (await me(client, issued(key))).status_code == 200
        assert jwks_server.fetches == 1


class TestFetchLimits:
    async def test_an_unknown_kid_within_the_interval_is_401_without_a_fetch(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.publish(key)
        app = create_app(jwks_settings(jwt_jwks_refetch_interval_seconds=60), jwks_clock=clock)
        async with open_client(app) as client:
            assert (await me(client, issued(key))).status_code == 200
            bogus = key.sign({"iss": ORIGIN, "aud": ORIGIN}, headers={"kid": "bogus"})
            response = await me(client, bogus)
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert jwks_server.fetches == 1

    async def test_a_burst_of_50_unknown_kids_costs_at_most_one_fetch(
        self, client: httpx.AsyncClient, jwks_server: JwksServer
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.publish(key)
        tokens = [
            key.sign({"iss": ORIGIN, "aud": ORIGIN}, headers={"kid": f"bogus-{index}"})
            for index in range(50)
        ]
        responses = await asyncio.gather(*(me(client, token) for token in tokens))
        assert [response.status_code for response in responses] == [401] * 50
        assert jwks_server.fetches == 1

    async def test_a_burst_for_a_freshly_rotated_key_causes_one_fetch_and_all_pass(
        self, client: httpx.AsyncClient, jwks_server: JwksServer
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.publish(key)
        responses = await asyncio.gather(*(me(client, issued(key)) for _ in range(50)))
        assert [response.status_code for response in responses] == [200] * 50
        assert jwks_server.fetches == 1


class TestIssuerOutage:
    async def test_an_unreachable_jwks_is_a_prompt_503_with_retry_after(
        self, client: httpx.AsyncClient, jwks_server: JwksServer
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.stop()
        started = time.monotonic()
        response = await me(client, issued(key))
        assert time.monotonic() - started < PROMPT_SECONDS
        body = assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
        assert "127.0.0.1" not in body["detail"]

    async def test_a_jwks_that_never_answers_is_a_503_within_the_timeout(
        self, settings_factory: Callable[..., Settings]
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        with unresponsive_endpoint() as url:
            app = create_app(
                settings_factory(
                    jwt_jwks_url=url,
                    jwt_issuer=ORIGIN,
                    jwt_audience=ORIGIN,
                    jwt_jwks_timeout_seconds=1,
                )
            )
            async with open_client(app) as client:
                started = time.monotonic()
                assert_problem(await me(client, issued(key)), 503)
                assert time.monotonic() - started < PROMPT_SECONDS
                # While the issuer is down, requests are not queued behind new fetches.
                started = time.monotonic()
                assert_problem(await me(client, issued(key)), 503)
                assert time.monotonic() - started < 0.5
                # The rest of the service does not wait on the issuer.
                assert (await client.get("/health")).status_code == 200

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (200, b"not json"),
            (200, b"[1, 2, 3]"),
            (200, b'{"keys": []}'),
            (200, b'{"keys": "nope"}'),
            (200, b'{"keys": [{"kty": "RSA", "kid": "x", "n": 5, "e": []}]}'),
            (500, b'{"error": "boom"}'),
            (404, b""),
        ],
    )
    async def test_a_broken_jwks_document_is_503_not_500(
        self, client: httpx.AsyncClient, jwks_server: JwksServer, status: int, body: bytes
    ) -> None:
        jwks_server.status = status
        jwks_server.raw_body = body
        assert_problem(await me(client, issued(IssuerKey.generate("EdDSA"))), 503)

    async def test_known_keys_keep_working_while_the_issuer_is_down(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.publish(key)
        app = create_app(
            jwks_settings(jwt_jwks_cache_seconds=0, jwt_jwks_refetch_interval_seconds=0),
            jwks_clock=clock,
        )
        async with open_client(app) as client:
            assert (await me(client, issued(key))).status_code == 200
            jwks_server.stop()
            # The cache has expired and every refetch fails, yet the known key still works...
            assert (await me(client, issued(key))).status_code == 200
            # ...while a kid it has never seen cannot be checked: 503, not 401 or 500.
            assert_problem(await me(client, issued(IssuerKey.generate("EdDSA"))), 503)

    async def test_the_service_recovers_when_the_issuer_comes_back(
        self, jwks_settings: Callable[..., Settings], jwks_server: JwksServer, clock: FakeClock
    ) -> None:
        key = IssuerKey.generate("EdDSA")
        jwks_server.status = 503
        jwks_server.raw_body = b"{}"
        app = create_app(jwks_settings(jwt_jwks_refetch_interval_seconds=0.2), jwks_clock=clock)
        async with open_client(app) as client:
            assert_problem(await me(client, issued(key)), 503)
            jwks_server.status = 200
            jwks_server.raw_body = None
            jwks_server.publish(key)
            clock.advance(0.2)
            assert (await me(client, issued(key))).status_code == 200
