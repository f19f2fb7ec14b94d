"""Fixtures for the Salesforce source: a CA and server certificate, the JWT key pair, and the wire
emulator (tests/salesforce/emulator.py) started on 127.0.0.1 for each test."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import JwtKeys, Tls, seven_users


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clomo-sync test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    files = Tls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certfile.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.keyfile.write_bytes(_pem(server_key))
    return files


@pytest.fixture(scope="session")
def jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> JwtKeys:
    """The connected app's key pair: the emulator holds the public half, as Salesforce does."""
    folder = tmp_path_factory.mktemp("jwt")
    key = _key()
    private_pem = _pem(key)
    path = folder / "server.key"
    path.write_bytes(private_pem)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return JwtKeys(path, private_pem, public_pem)


@pytest.fixture
def emulator(tls: Tls, jwt_keys: JwtKeys) -> Iterator[SalesforceEmulator]:
    server = SalesforceEmulator(
        certfile=str(tls.certfile),
        keyfile=str(tls.keyfile),
        public_key=jwt_keys.public_pem,
        page_size=3,
        users=seven_users(),
    ).start()
    yield server
    server.stop()
    assert server.unknown == [], f"requests the emulator does not know: {server.unknown}"


@pytest.fixture
def settings(emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys) -> SalesforceSourceSettings:
    """JWT bearer settings pointing at the emulator, with a short retry bound."""
    return SalesforceSourceSettings(
        kind="salesforce",
        login_url=emulator.url,
        consumer_key=emulator.consumer_key,
        private_key_file=jwt_keys.private_key_file,
        username=emulator.username,
        ca_file=tls.ca_file,
        retry_max_seconds=1.5,
        timeout_seconds=5,
    )
