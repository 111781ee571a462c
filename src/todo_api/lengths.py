"""How long stored text may be: each limit defined once, for the column that stores the value
and for the schema or check that accepts it."""

from __future__ import annotations

TITLE_MAX_LENGTH = 255
# A token's `sub`, which owns tasks (tasks.user_id).
SUBJECT_MAX_LENGTH = 255
# The most an address may have (RFC 5321's path limit, which email-validator applies).
EMAIL_MAX_LENGTH = 254
# A task list's name, and its case-folded form: str.casefold() turns one character into at
# most three ("ΐ" into three), so the key column is three times as wide.
LIST_NAME_MAX_LENGTH = 100
LIST_NAME_KEY_MAX_LENGTH = 3 * LIST_NAME_MAX_LENGTH
# A CalDAV resource name, collection segment or UID that a client chose.
DAV_NAME_MAX_LENGTH = 255
