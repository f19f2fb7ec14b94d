"""Service-account keys made by the tests: the private half goes into the key file the source
reads, the public half to the emulator that checks the signed assertion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.google_workspace.google_emulator import CLIENT_EMAIL


@dataclass(frozen=True)
class ServiceKey:
    key_id: str
    private_pem: str
    public_pem: bytes

    def json_for(self, token_uri: str) -> dict[str, Any]:
        """The key file as the Google Cloud console writes it, but for the emulator's token_uri."""
        return {
            "type": "service_account",
            "project_id": "acme-project",
            "private_key_id": self.key_id,
            "private_key": self.private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "109876543210987654321",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }


def generate_key(key_id: str) -> ServiceKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ServiceKey(key_id, private_pem, public_pem)
