"""GET /metrics: Prometheus text that moves with the traffic, labelled by route template."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ApiUser, TaskFactory, make_token
from tests.servers import clean_environment, running_servers
from todo_api.settings import Settings


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_request_count_and_latency_move_by_route_template(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    labels = {"method": "GET", "route": "/tasks/{task_id}", "status": "200"}
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).status_code == 200
    after = await scrape(client)
    assert (
        value(after, "http_requests_total", **labels)
        - value(before, "http_requests_total", **labels)
        == 3
    )
    assert (
        value(after, "http_request_duration_seconds_count", **labels)
        - value(before, "http_request_duration_seconds_count", **labels)
        == 3
    )
    assert task["id"] not in after


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    before = value(await scrape(client), "http_requests_total", **labels)
    paths = [f"/random/{uuid.uuid4().hex}" for _ in range(5)]
    for path in paths:
        await client.get(path)
    after = await scrape(client)
    assert value(after, "http_requests_total", **labels) - before == 5
    assert not any(path in after for path in paths)


async def test_unknown_methods_share_one_label(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/health")
    text = await scrape(client)
    assert 'method="BREW"' not in text
    assert value(text, "http_requests_total", method="other", route="/health", status="405") >= 1


async def test_authentication_failures_are_counted_by_reason(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    await client.get("/tasks")
    await client.get("/tasks", headers={"Authorization": "Bearer not-a-jwt"})
    await client.get("/tasks", headers={"Authorization": f"Bearer {make_token(secret='x' * 40)}"})
    after = await scrape(client)
    for reason in ("missing", "malformed", "signature"):
        delta = value(after, "auth_failures_total", reason=reason) - value(
            before, "auth_failures_total", reason=reason
        )
        assert delta == 1, reason


async def test_pool_and_in_progress_gauges_are_reported(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    text = await scrape(client)
    assert (
        value(text, "db_pool_connections_max") == settings.db_pool_size + settings.db_max_overflow
    )
    assert value(text, "db_pool_connections_in_use") == 0
    assert value(text, "db_pool_connections_waiting") == 0
    # The scrape itself is in progress while it is rendered.
    assert value(text, "http_requests_in_progress") >= 1


@pytest.mark.server
def test_one_scrape_sums_every_worker(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": "w" * 40, "LOG_FORMAT": "json"}
    with (
        running_servers(
            tmp_path, clean_environment(**env), "--workers", "2", "--no-migrate", count=1
        ) as (server,),
        httpx.Client(base_url=server.url) as http,
    ):
        before = value(
            http.get("/metrics").text,
            "http_requests_total",
            method="GET",
            route="/health",
            status="200",
        )
        for _ in range(30):
            assert http.get("/health", headers={"Connection": "close"}).status_code == 200
        texts = [http.get("/metrics", headers={"Connection": "close"}).text for _ in range(6)]
    counts = {
        value(text, "http_requests_total", method="GET", route="/health", status="200")
        for text in texts
    }
    # Whichever worker answers the scrape reports the same total for all of them.
    assert counts == {before + 30}
