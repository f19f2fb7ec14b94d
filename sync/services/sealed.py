"""TOTP secrets sealed at rest: Fernet (AES-128-CBC with HMAC-SHA256, `cryptography`) under a
key derived by HKDF-SHA256 from `[web] secret_env` / `secret_file`, so a copy of the database
alone does not give anyone the administrators' codes.

Without a configured web secret (each process then signs its forms with a random one, which a
restart forgets), a sealed secret would be lost at the next restart: the secret is then kept as
it is, marked `plain:`, and sealed the next time one is enrolled with a key. A sealed secret
that the key of the moment cannot open (the web secret changed) opens to nothing: that
factor no longer verifies, and a recovery code or `accounts reset-mfa` gets its holder back in.
"""

from __future__ import annotations

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

SEALED, PLAIN = "fernet:", "plain:"
_INFO = b"clomo-sync console totp secret v1"


class SecretBox:
    def __init__(self, web_secret: str | None) -> None:
        self._fernet = None if web_secret is None else Fernet(_key(web_secret))

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return PLAIN + secret
        return SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        """The secret, or None when it cannot be opened with this key."""
        if stored is None:
            return None
        if stored.startswith(PLAIN):
            return stored.removeprefix(PLAIN)
        if not stored.startswith(SEALED) or self._fernet is None:
            return None
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            log.warning("a TOTP secret does not open with this web secret: was it changed?")
            return None


def _key(web_secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return base64.urlsafe_b64encode(derived.derive(web_secret.encode()))
