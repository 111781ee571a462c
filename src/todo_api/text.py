"""The one check that text from a request can be encoded as UTF-8."""

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
