"""How long stored text may be: each limit defined once, for the column that stores the value
and for the schema or check that accepts it."""

from __future__ import annotations

TITLE_MAX_LENGTH = 255
# A token's `sub`, which owns tasks (tasks.user_id).
SUBJECT_MAX_LENGTH = 255
# The most an address may have (RFC 5321's path limit, which email-validator applies).
EMAIL_MAX_LENGTH = 254
