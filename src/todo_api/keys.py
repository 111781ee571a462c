"""Keys derived from the server's secret, one for each use, so that no key serves two."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def derive_key(secret: str | None, label: bytes) -> bytes:
    """The HMAC-SHA256 key for the use that `label` names.

    Without a secret there is nothing every instance shares: the key is random, of this
    process only, and what it signs or names stops matching elsewhere and after a restart.
    """
    material = secret.encode() if secret is not None else secrets.token_bytes(32)
    return hmac.new(material, label, hashlib.sha256).digest()
