"""Validation rules as properties: valid titles round-trip exactly, invalid ones store nothing;
any rule made of RRULE parts is kept as sent or refused naming it, and a recurring task's
next due date is later and at the same local time.

Each property runs a bounded, derandomized number of examples through the HTTP API on every
configured database. One user per test function owns every task the examples create.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ApiUser, assert_problem

# Unicode White_Space: what the service trims (pydantic-core uses Rust's `str::trim`).
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
WHITE_SPACE += "\u2028\u2029\u202f\u205f\u3000"

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters PostgreSQL and UTF-8 can store: no NUL, no lone surrogate.
storable = st.characters(codec="utf-8", exclude_characters="\x00")
padding = st.text(st.sampled_from(WHITE_SPACE), max_size=3)
inner = st.text(storable, min_size=1, max_size=255).filter(
    lambda text: text == text.strip(WHITE_SPACE)
)
special = st.sampled_from(
    [
        "🙂",  # an emoji outside the BMP
        "👩‍👩‍👧",  # a ZWJ sequence
        "e\u0301",  # e + a combining acute accent, not the precomposed é
        "שלום עולם",  # right-to-left
        "مرحبا\u200f!",  # Arabic with a right-to-left mark
        "\u202eabc\u202c",  # bidi override characters are just text
        "\ufeffBOM",  # U+FEFF is not White_Space, so it is kept
        "a" * 255,
        "🙂" * 255,
    ]
)


@st.composite
def valid_titles(draw: st.DrawFn) -> tuple[str, str]:
    """A title as sent, with white space around it, and what the service must store."""
    core = draw(st.one_of(special, inner))
    return draw(padding) + core + draw(padding), core


invalid_titles = st.one_of(
    padding,  # empty once trimmed
    st.text(storable, min_size=256, max_size=300)
    .map(lambda text: text.strip(WHITE_SPACE))
    .filter(lambda text: len(text) > 255),
    st.builds(lambda pad, body: pad + body + pad, padding, st.just("x" * 256)),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


async def total_tasks(client: httpx.AsyncClient, user: ApiUser) -> int:
    response = await client.get("/tasks", headers=user.headers)
    assert response.status_code == 200
    total: int = response.json()["total"]
    return total


@PROPERTY_SETTINGS
@given(title=valid_titles())
async def test_any_valid_title_round_trips_exactly(
    client: httpx.AsyncClient, alice: ApiUser, title: tuple[str, str]
) -> None:
    sent, stored = title
    created = await client.post("/tasks", json={"title": sent}, headers=alice.headers)
    assert created.status_code == 201, created.text
    assert created.json()["title"] == stored
    task_id = created.json()["id"]
    read = await client.get(f"/tasks/{task_id}", headers=alice.headers)
    assert read.json()["title"] == stored
    replaced = await client.put(f"/tasks/{task_id}", json={"title": sent}, headers=alice.headers)
    assert replaced.json()["title"] == stored
    patched = await client.patch(f"/tasks/{task_id}", json={"title": sent}, headers=alice.headers)
    assert patched.json()["title"] == stored


@PROPERTY_SETTINGS
@given(title=invalid_titles)
async def test_any_invalid_title_is_rejected_and_stores_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: Any, title: object
) -> None:
    existing = await create_task(alice, title="unchanged")
    before = await total_tasks(client, alice)
    created = await client.post("/tasks", json={"title": title}, headers=alice.headers)
    assert_problem(created, 422)
    assert await total_tasks(client, alice) == before
    for method in ("PUT", "PATCH"):
        changed = await client.request(
            method, f"/tasks/{existing['id']}", json={"title": title}, headers=alice.headers
        )
        assert_problem(changed, 422)
    read = await client.get(f"/tasks/{existing['id']}", headers=alice.headers)
    assert read.json() == existing


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(["title", "description"]),
    bad=st.sampled_from(["\x00", "\ud800", "\udfff"]),
    around=st.text(storable, max_size=5),
)
async def test_nul_and_lone_surrogates_are_refused_and_store_nothing(
    client: httpx.AsyncClient, alice: ApiUser, field: str, bad: str, around: str
) -> None:
    before = await total_tasks(client, alice)
    body = {"title": "ok", field: around + bad + around}
    # A lone surrogate has no UTF-8 form; JSON carries it as an escape.
    response = await client.post(
        "/tasks",
        content=_json_ascii(body),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422)
    assert await total_tasks(client, alice) == before


async def test_search_is_case_insensitive_beyond_ascii(
    client: httpx.AsyncClient, alice: ApiUser, create_task: Any
) -> None:
    task = await create_task(alice, title="Éclair ÆBLE", description="ΣΟΦΊΑ und STRAẞE")
    for query in ("éclair", "ÉCLAIR", "æble", "σοφία", "ΣΟΦΊΑ"):
        response = await client.get("/tasks", params={"q": query}, headers=alice.headers)
        assert [item["id"] for item in response.json()["items"]] == [task["id"]], query


# RRULE parts, valid and not, in any order and case: each rule is accepted as sent or is 422
# naming it, never anything else.
rule_parts = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY",
        "FREQ=MONTHLY",
        "FREQ=YEARLY",
        "FREQ=HOURLY",
        "INTERVAL=2",
        "INTERVAL=0",
        "COUNT=3",
        "UNTIL=20270101",
        "UNTIL=20200101T000000Z",
        "BYDAY=MO,FR",
        "BYDAY=-1SU",
        "BYDAY=9MO",
        "BYMONTHDAY=31",
        "BYMONTHDAY=-1",
        "BYMONTH=2",
        "BYSETPOS=-1",
        "BYSETPOS=40",
        "WKST=SU",
        "BYHOUR=9",
        "X=1",
        "",
    ]
)
rules = (
    st.lists(rule_parts, min_size=1, max_size=5)
    .map(";".join)
    .map(lambda rule: rule.lower() if len(rule) % 3 == 0 else rule)
)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]


@PROPERTY_SETTINGS
@given(rule=rules)
async def test_any_rule_is_kept_as_sent_or_refused_naming_it(
    client: httpx.AsyncClient, alice: ApiUser, rule: str
) -> None:
    body = {"title": "t", "due_at": "2026-01-05T09:00:00Z", "recurrence": {"rule": rule}}
    response = await client.post("/tasks", json=body, headers=alice.headers)
    if response.status_code == 201:
        assert response.json()["recurrence"]["rule"] == rule
    else:
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["loc"][:3] == ["body", "recurrence", "rule"]


@PROPERTY_SETTINGS
@given(
    rule=st.sampled_from(
        ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=SU", "FREQ=MONTHLY;BYDAY=-1SU", "FREQ=YEARLY"]
    ),
    zone=st.sampled_from(ZONES),
    due=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)),
)
async def test_the_next_due_date_is_later_at_the_same_local_time(
    client: httpx.AsyncClient, alice: ApiUser, rule: str, zone: str, due: datetime
) -> None:
    local = due.replace(microsecond=0, tzinfo=ZoneInfo(zone))
    body = {
        "title": "t",
        "due_at": local.isoformat(),
        "recurrence": {"rule": rule, "time_zone": zone},
    }
    created = await client.post("/tasks", json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    task = created.json()
    toggled = await client.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
    assert toggled.status_code == 200, toggled.text
    before = datetime.fromisoformat(task["due_at"])
    after = datetime.fromisoformat(toggled.json()["due_at"])
    assert after > before
    assert toggled.json()["completed"] is False
    wall = after.astimezone(ZoneInfo(zone))
    first = before.astimezone(ZoneInfo(zone))
    # The same local time, unless that day skips it (a spring change), where it moves on by
    # the change.
    if wall.time() != first.time():
        wanted = datetime.combine(wall.date(), first.time(), tzinfo=ZoneInfo(zone))
        assert wanted.astimezone(UTC).astimezone(ZoneInfo(zone)).time() != wanted.time()


def _json_ascii(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()


not_an_id = st.one_of(
    st.text(max_size=40),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


@PROPERTY_SETTINGS
@given(field=st.sampled_from(["after", "parent_id", "list_id"]), value=not_an_id)
async def test_any_malformed_move_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, field: str, value: Any
) -> None:
    created = await client.post("/tasks", json={"title": "stays"}, headers=alice.headers)
    task = created.json()
    url = f"/tasks/{task['id']}/move"
    assert_problem(await client.post(url, json={field: value}, headers=alice.headers), 422)
    assert (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json() == task


@PROPERTY_SETTINGS
@given(moves=st.lists(st.tuples(st.integers(0, 4), st.integers(-1, 4)), min_size=1, max_size=8))
async def test_any_sequence_of_moves_gives_the_order_a_list_predicts(
    client: httpx.AsyncClient, alice: ApiUser, moves: list[tuple[int, int]]
) -> None:
    made = await client.post("/lists", json={"name": uuid.uuid4().hex}, headers=alice.headers)
    list_id = made.json()["id"]
    order = []
    for number in range(5):
        body = {"title": f"t{number}", "list_id": list_id}
        order.append((await client.post("/tasks", json=body, headers=alice.headers)).json()["id"])
    ids = list(order)
    for moved, after in moves:
        if after >= 0 and ids[after] == ids[moved]:
            continue
        body = {"after": None if after < 0 else ids[after]}
        response = await client.post(f"/tasks/{ids[moved]}/move", json=body, headers=alice.headers)
        assert response.status_code == 200, response.text
        order.remove(ids[moved])
        order.insert(0 if after < 0 else order.index(ids[after]) + 1, ids[moved])
    params = {"list_id": list_id, "sort": "position"}
    listed = (await client.get("/tasks", params=params, headers=alice.headers)).json()
    assert [task["id"] for task in listed["items"]] == order
