"""Manual order: the `position` keys of siblings, compared by code point.

Two kinds of key, one order:
- a task placed last among its siblings (a new task, a move without `after`, a rebalance)
  takes the key of its own change number (`appended`): a length letter, then the number in
  decimal (`b7`, `c42`, `e1234`), so a longer number sorts later. Change numbers only grow
  per owner, so this key sorts after every key its siblings hold, and it is computed by the
  database inside the write that takes the number (`appended_position`): appending costs no
  look-up of the last sibling and no round trip.
- a task placed between two siblings takes a key strictly between theirs (`between`), over
  the 62 digits 0-9A-Za-z read as a fraction; every existing key sorts below the next
  number's key, so the two kinds never collide.
Tasks that predate manual order share the key `a`, below every number's; their ties (and
any other) are broken by id.

Placing between two keys never changes a sibling: two devices reordering the same list both
keep their moves. When no short key fits (equal keys, or a gap worn down to
`MAX_POSITION_LENGTH`), `between` answers None and the service renumbers the sibling group.

Key lengths, measured by tests/test_positions.py: 10,000 inserts at random spots among the
siblings leave keys of at most 8 characters (4.3 on average). The worst case is inserts at
the same spot (each right after the same sibling, or each first): every insert takes an
eighth of the gap left, one character per ~20 inserts, so a key reaches
MAX_POSITION_LENGTH after 5,060 of them and the group is renumbered: once in 10,000, each
time writing every sibling of the group.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALUE = {digit: value for value, digit in enumerate(DIGITS)}
_BASE = len(DIGITS)
# A key between two goes this fraction of the gap below the upper one (tests/test_positions.py
# measured 2, the midpoint, to 62: 8 keeps 4x as many inserts at one spot before renumbering
# as the midpoint, for keys at random spots 0.8 characters longer on average).
_NEAR_UPPER = 8
# Under the contract's 256; the column is this wide.
MAX_POSITION_LENGTH = 255
# The key of the tasks that predate manual order: below every number's key.
UNORDERED_POSITION = "a"


def appended(number: int) -> str:
    """The key of a task placed last by the write numbered `number` (see the docstring)."""
    digits = str(number)
    return chr(ord("a") + len(digits)) + digits


class _Character(FunctionElement[str]):
    """The character of a code point: chr() on PostgreSQL, char() on SQLite."""

    type = String()
    inherit_cache = True


@compiles(_Character, "postgresql")
def _chr(element: _Character, compiler: SQLCompiler, **kw: Any) -> str:
    return f"chr({compiler.process(element.clauses, **kw)})"


@compiles(_Character)
def _char(element: _Character, compiler: SQLCompiler, **kw: Any) -> str:
    return f"char({compiler.process(element.clauses, **kw)})"


def appended_position(number: Any) -> Any:
    """`appended` as SQL, of a number the statement computes."""
    digits = cast(number, String)
    return _Character(ord("a") + func.length(digits)) + digits


def between(low: str | None, high: str | None) -> str | None:
    """A key strictly between `low` and `high` (None: unbounded), of at most
    MAX_POSITION_LENGTH characters; None when there is no such key (equal keys, or
    `high` just `low` followed by zeros) or none that short."""
    if low is not None and high is not None and low >= high:
        return None
    low = low or ""
    prefix = ""
    index = 0
    while True:
        lower = _VALUE[low[index]] if index < len(low) else -1
        if high is None:
            upper = _BASE
        elif index < len(high):
            upper = _VALUE[high[index]]
        else:
            return None  # cannot happen for low < high; kept total
        if upper - lower >= 2:
            # Near the upper neighbour: moves to one spot (right after the same sibling, or
            # first) come one below the other, and each leaves most of the gap to the next.
            middle = (
                upper - max(1, (upper - lower) // _NEAR_UPPER)
                if high is not None
                else (lower + upper + 1) // 2
            )
            if middle > 0:
                return _short(prefix + DIGITS[middle])
            # Only 0 fits here, and a key ending in 0 leaves no room below it: go deeper.
            return _short(prefix + DIGITS[0] + DIGITS[_BASE // 2])
        if lower == upper:
            prefix += DIGITS[lower]
            index += 1
            continue
        if lower == -1:
            # low has ended and high's digit is 0: follow it down.
            prefix += DIGITS[0]
            index += 1
            continue
        # Adjacent digits: keep low's, then anything above the rest of low.
        return _short(prefix + DIGITS[lower] + _above(low[index + 1 :]))


def _above(rest: str) -> str:
    """A suffix that sorts after `rest` (with nothing above)."""
    for index, digit in enumerate(rest):
        value = _VALUE[digit]
        if value < _BASE - 1:
            return rest[:index] + DIGITS[(value + _BASE + 1) // 2]
    return rest + DIGITS[_BASE // 2]


def _short(key: str) -> str | None:
    return key if len(key) <= MAX_POSITION_LENGTH else None
