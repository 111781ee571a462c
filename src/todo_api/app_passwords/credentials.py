"""App passwords themselves: how one is made, how it is stored, and what a user name means.

Stored as SHA-256, not Argon2id. A slow, salted hash protects what people choose, which is
guessable; an app password is 140 random bits the service chose, and no hash speed makes
2^140 guesses feasible, so a leaked table reveals nothing either way. A fast digest makes
every sign-in cheap (CalDAV apps send the password with every request, not once per
session) and lets the digest itself find the row (statements.SIGN_IN): one statement
checks the password and records its use. No server key is mixed in: nothing would be
gained, and rotating SERVER_SECRET would silently revoke every app password.

That the database compares digests, rather than the code in constant time, is safe: the
timing of the comparison can at best reveal a stored digest, piece by piece, and a digest
known in full yields no password (that takes a SHA-256 preimage) and signs nobody in (a
sign-in sends the password, not its digest).
"""

from __future__ import annotations

import hashlib
import secrets

from todo_api.auth.schemas import normalize_email
from todo_api.lengths import SUBJECT_MAX_LENGTH
from todo_api.text import is_valid_unicode

# Lower-case letters and digits without 0, 1, 8 and 9, which read as O, l, B and g: what
# base32 (RFC 4648) keeps, so a password read off one screen is typed right on another.
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CHARACTERS = 28  # 28 x 5 = 140 random bits
GROUP = 4
SEPARATORS = "- "


def new_password() -> str:
    """A new app password, in groups of four: `abcd-efgh-...` (7 groups)."""
    characters = "".join(secrets.choice(ALPHABET) for _ in range(CHARACTERS))
    return "-".join(characters[i : i + GROUP] for i in range(0, CHARACTERS, GROUP))


def password_digest(password: str) -> str | None:
    """What is stored of `password`, or None when it cannot be an app password.

    Typed on a phone, a password gains capitals and loses or changes its dashes: case,
    dashes and spaces are ignored, which costs no randomness (the alphabet has one case).
    """
    characters = password.lower()
    for separator in SEPARATORS:
        characters = characters.replace(separator, "")
    if len(characters) != CHARACTERS or not set(characters) <= set(ALPHABET):
        return None
    return hashlib.sha256(characters.encode("ascii")).hexdigest()


def could_be_username(username: str) -> bool:
    """Whether any row could hold this user name: not overlong, and text both databases
    store (PostgreSQL refuses NUL, and UTF-8 has no lone surrogates)."""
    return (
        0 < len(username) <= SUBJECT_MAX_LENGTH
        and "\x00" not in username
        and is_valid_unicode(username)
    )


def username_keys(username: str) -> list[str]:
    """The stored `username_key`s a user name given at sign-in may stand for: itself (a
    subject, matched exactly) and, when it is an email address, the address lower-cased (a
    built-in account's email is matched ignoring case)."""
    keys = [username]
    try:
        email = normalize_email(username).lower()
    except ValueError:
        return keys
    if email != username:
        keys.append(email)
    return keys
