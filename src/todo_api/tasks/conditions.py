"""Entity tags of tasks and the conditional request headers (RFC 9110, section 13).

A task's ETag is its version, quoted: `"42"`. Versions come from the owner's change
counter, which only grows, so a tag is never reused for an earlier state of a task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from todo_api.errors import AppError

# One member of an entity-tag list: optional weakness prefix, then a quoted opaque tag
# (etagc = %x21 / %x23-7E / obs-text), then a comma or the end.
_LIST_MEMBER = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|$)')
_OUR_TAG = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_VERSION = 2**63 - 1


class PreconditionFailedError(AppError):
    status = 412
    detail = "The task has changed: its ETag no longer matches If-Match."


def entity_tag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True, slots=True)
class EntityTags:
    """A parsed If-Match or If-None-Match: `*`, or the list of tags it names."""

    any_tag: bool
    # (weak, opaque tag) for each member; empty when the value was not a valid list.
    members: tuple[tuple[bool, str], ...] = ()

    def strong_versions(self) -> tuple[int, ...]:
        """The versions of our own tasks that these tags name under strong comparison:
        a weak tag never matches, nor does one that is not of our form."""
        versions = []
        for weak, opaque in self.members:
            if not weak and _OUR_TAG.fullmatch(opaque) and int(opaque) <= _MAX_VERSION:
                versions.append(int(opaque))
        return tuple(versions)

    def weakly_match(self, etag: str) -> bool:
        """If-None-Match's comparison: the opaque tags agree, weak or not."""
        if self.any_tag:
            return True
        opaque = etag.strip('"')
        return any(member == opaque for _weak, member in self.members)


def parse_entity_tags(value: str | None) -> EntityTags | None:
    """None when the header is absent. A value that is not a valid entity-tag list names
    no tag, so it never matches (If-Match then fails, If-None-Match lets the GET through)."""
    if value is None:
        return None
    if value.strip(" \t") == "*":
        return EntityTags(any_tag=True)
    members: list[tuple[bool, str]] = []
    position = 0
    while position < len(value):
        found = _LIST_MEMBER.match(value, position)
        if found is None:
            return EntityTags(any_tag=False)
        members.append((found.group(1) is not None, found.group(2)))
        position = found.end()
    return EntityTags(any_tag=False, members=tuple(members))


@dataclass(frozen=True, slots=True)
class IfMatch:
    """An If-Match condition for a write: `*` (any current version) or these versions."""

    versions: tuple[int, ...] | None

    @classmethod
    def from_header(cls, value: str | None) -> IfMatch | None:
        tags = parse_entity_tags(value)
        if tags is None:
            return None
        return cls(None if tags.any_tag else tags.strong_versions())


def names_current(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, RFC 9110 section 13.1.2): the
    client's copy is current and a GET answers 304."""
    cached = parse_entity_tags(if_none_match)
    return cached is not None and cached.weakly_match(etag)
