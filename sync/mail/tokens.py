"""Reset tokens (SPEC §6): 256 random bits, stored only as a hash, single use, expiring."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """(the token to put in a link, the hash to store)."""
    token = secrets.token_urlsafe(32)  # 32 bytes = 256 bits
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
