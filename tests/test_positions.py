"""The keys of manual order (tasks/positions.py): a key between any two, compared by code
point; appended keys after every other; lengths measured for the docstring's figures; and
the database computing the same appended key as Python on both backends."""

from __future__ import annotations

import random

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ApiUser, TaskFactory
from todo_api.tasks.positions import DIGITS, MAX_POSITION_LENGTH, appended, between

keys = st.text(alphabet=DIGITS, min_size=1, max_size=12)


@given(keys, keys)
def test_a_key_between_two_sorts_strictly_between(first: str, second: str) -> None:
    low, high = sorted((first, second))
    key = between(low, high)
    if key is None:
        # Only when nothing fits: equal keys, or high is low followed by zeros.
        assert low == high or high == low + "0" * (len(high) - len(low))
        return
    assert low < key < high
    assert set(key) <= set(DIGITS)
    assert len(key) <= MAX_POSITION_LENGTH


@given(keys)
def test_a_key_before_or_after_any_key(key: str) -> None:
    after = between(key, None)
    assert after is not None
    assert key < after
    before = between(None, key)
    if key.strip("0") == "":
        assert before is None  # nothing sorts below a run of the smallest digit
    else:
        assert before is not None
        assert before < key


@given(st.integers(min_value=1, max_value=2**63 - 1), st.integers(min_value=1, max_value=2**63 - 1))
def test_appended_keys_follow_their_numbers(first: int, second: int) -> None:
    assert (appended(first) < appended(second)) == (first < second)


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=200))
def test_inserts_at_any_spot_keep_a_total_order_below_the_next_appended_key(
    spots: list[int],
) -> None:
    order = [appended(1), appended(2)]
    for spot in spots:
        index = spot % (len(order) + 1)
        low = order[index - 1] if index else None
        high = order[index] if index < len(order) else None
        key = between(low, high) if high is not None else appended(len(order) + 10)
        assert key is not None
        order.insert(index, key)
        assert order == sorted(order)
        assert len(set(order)) == len(order)
    assert max(order) < appended(len(order) + 11)


def _renumbered(count: int, start: int) -> list[str]:
    return [appended(start + n) for n in range(count)]


def test_key_lengths_after_ten_thousand_inserts() -> None:
    """The figures of positions.py's docstring."""
    # At the same spot: right after the same sibling each time, renumbering (new appended
    # keys for the group) when no key fits.
    anchor, ceiling = appended(5), appended(6)
    longest, renumbered = 0, 0
    for _ in range(10_000):
        key = between(anchor, ceiling)
        if key is None:
            renumbered += 1
            anchor, ceiling = _renumbered(2, 1000 * renumbered)
            key = between(anchor, ceiling)
        assert key is not None
        ceiling = key
        longest = max(longest, len(key))
    assert longest <= MAX_POSITION_LENGTH
    assert renumbered == 1  # once every ~5,060 inserts
    # At random spots (a fixed seed, so the figure is stable).
    chance = random.Random(25)
    order = [appended(1)]
    for number in range(10_000):
        index = chance.randrange(len(order) + 1)
        if index == len(order):
            key = appended(number + 2)
        else:
            key = between(order[index - 1] if index else None, order[index])
        assert key is not None
        order.insert(index, key)
    lengths = [len(key) for key in order]
    assert max(lengths) <= 8
    assert sum(lengths) / len(lengths) < 4.5


async def test_the_database_appends_the_same_key_as_python(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(12):
        task = await create_task(alice)
        assert task["position"] == appended(int(task["etag"].strip('"')))
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    assert child["position"] == appended(int(child["etag"].strip('"')))
