"""Fixtures for the Salesforce source: a CA and server certificate, the JWT key pair, and the wire
emulator (tests/salesforce/emulator.py) started on 127.0.0.1 for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import JwtKeys, Tls, seven_users
from tests.support.certs import make_server_tls


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
    files = make_server_tls(tmp_path_factory.mktemp("tls"), ("127.0.0.1",))
    return Tls(files.ca_cert, files.cert, files.key)


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
