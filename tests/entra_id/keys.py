"""The app registration's certificate credential: an RSA key and a self-signed certificate in one
PEM, as an administrator makes with `openssl req -x509 -newkey rsa:2048 -nodes`."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class AppCertificate:
    pem_file: Path  # key and certificate, for certificate_file
    certificate: x509.Certificate

    @property
    def thumbprint_s256(self) -> str:
        """`x5t#S256`: base64url of the SHA-256 of the certificate's DER."""
        digest = hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER))
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def make_app_certificate(path: Path, valid_days: float = 365) -> AppCertificate:
    """A certificate valid from a day ago for `valid_days` (negative: expired already)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clomo-sync")])
    start = datetime.now(UTC) - timedelta(days=1)
    end = max(start + timedelta(seconds=1), datetime.now(UTC) + timedelta(days=valid_days))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(key_pem + certificate.public_bytes(serialization.Encoding.PEM))
    return AppCertificate(path, certificate)
