"""Rules of text from a request: the one check that it can be encoded as UTF-8 and stored,
and the one definition of the white space that trimming removes."""

from __future__ import annotations


def is_valid_unicode(value: str) -> bool:
    """False when `value` holds a lone surrogate: JSON and forms can carry one, UTF-8 cannot,
    so storing or hashing such a string would raise deep in a driver or a hasher."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_unicode(value: str) -> str:
    """`value` itself, or ValueError (a 422 as a pydantic validator) for a lone surrogate."""
    if not is_valid_unicode(value):
        raise ValueError("must be valid Unicode (no lone surrogates)")
    return value


def storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8:
    # both must be refused here as 422 rather than fail later in the driver.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return valid_unicode(value)


# Rules written into the OpenAPI document so that clients (and the fuzzer) know
# them: no NUL anywhere, and a title needs one character that trimming keeps. Trimming
# strips Unicode White_Space (pydantic-core uses Rust's `str::trim`), spelled out here
# because `\s` means different things in different regex dialects. Only documented, not
# enforced by the pattern: the validators stay the single source of the rules.
WHITE_SPACE_CLASS = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# The same set as characters, for trimming tags exactly as titles are trimmed (Python's own
# str.strip() would also strip the control characters U+001C..U+001F).
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
WHITE_SPACE += "\u2028\u2029\u202f\u205f\u3000"
