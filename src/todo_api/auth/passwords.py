"""Argon2id password hashing, run off the event loop and with bounded concurrency."""

from __future__ import annotations

import os

import anyio
import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from todo_api.text import is_valid_unicode

# A password no account has, and its hash with argon2-cffi's default parameters. Checking
# it costs exactly what checking a real password costs, which is all it is for.
_DUMMY_PASSWORD = "dummy password for timing equalisation"  # noqa: S105
_DEFAULT_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$BHhrApFT6dD7WIn0A1jEIw$"
    "BmY8gs5IDtH1OHApjo8Qig1k5Pk/Wa3uKQOMpV2rl0Y"
)


class PasswordService:
    """Hashes and checks passwords; one instance per application, created in `lifespan`.

    One Argon2id call takes tens of milliseconds of CPU and 64 MiB of memory, so calls run in
    worker threads and at most one per CPU at a time: a burst of logins queues instead of
    exhausting memory or the thread pool that the rest of the service shares.
    """

    def __init__(self, hasher: Argon2Hasher | None = None, concurrency: int | None = None) -> None:
        self._hasher = hasher or Argon2Hasher()
        self._hash = PasswordHash((self._hasher,))
        self._limiter = anyio.CapacityLimiter(concurrency or os.cpu_count() or 1)
        # The built-in dummy only stands in while its parameters are the hasher's own.
        self._dummy_hash: str | None = (
            None if self._hasher.check_needs_rehash(_DEFAULT_DUMMY_HASH) else _DEFAULT_DUMMY_HASH
        )

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, stored_hash: str | None) -> tuple[bool, str | None]:
        """Check a password; returns (valid, a new hash when the stored one is outdated).

        With no stored hash (unknown email) a dummy hash is checked instead, so the answer
        takes as long as for a real account and its timing does not reveal which emails exist.
        """
        # A lone surrogate (valid in JSON and forms, not in UTF-8) would make the hasher raise.
        if stored_hash is None or not is_valid_unicode(password):
            dummy_hash = await self._get_dummy_hash()
            await anyio.to_thread.run_sync(
                self._hash.verify, _DUMMY_PASSWORD, dummy_hash, limiter=self._limiter
            )
            return False, None
        return await anyio.to_thread.run_sync(
            self._hash.verify_and_update, password, stored_hash, limiter=self._limiter
        )

    async def _get_dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(_DUMMY_PASSWORD)
        return self._dummy_hash
