"""Fixtures for the Entra ID source: a CA and server certificate trusted through
REQUESTS_CA_BUNDLE (as MSAL and requests read it), the app's certificate credential, and the
emulator (tests/entra_id/emulator.py) started on 127.0.0.1 for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.sources.settings import EntraIdSourceSettings
from tests.entra_id.emulator import CLIENT_ID, SECRET, TENANT, EntraEmulator, make_user
from tests.entra_id.keys import AppCertificate, make_app_certificate
from tests.support.certs import make_server_tls
from tests.support.slapd import TlsFiles

SECRET_ENV = "CLOMO_TEST_ENTRA_SECRET"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_server_tls(tmp_path_factory.mktemp("entra-tls"), ("127.0.0.1",))


@pytest.fixture(scope="session")
def app_certificate(tmp_path_factory: pytest.TempPathFactory) -> AppCertificate:
    return make_app_certificate(tmp_path_factory.mktemp("entra-app") / "app.pem")


@pytest.fixture
def emulator(
    tls: TlsFiles, app_certificate: AppCertificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EntraEmulator]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_cert))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    server = EntraEmulator(
        certfile=str(tls.cert),
        keyfile=str(tls.key),
        users=[make_user(n) for n in range(1, 8)],
        certificate=app_certificate,
    ).start()
    yield server
    server.stop()
    assert server.unknown == [], f"requests the emulator does not know: {server.unknown}"


def entra_keys(emulator: EntraEmulator, **keys: object) -> dict[str, object]:
    """The `[tenants.source]` keys of a tenant using the emulator, with a short retry budget."""
    return {
        "kind": "entra_id",
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        "authority": emulator.url,
        "graph_endpoint": emulator.url,
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.5,
        **keys,
    }


@pytest.fixture
def settings(emulator: EntraEmulator) -> EntraIdSourceSettings:
    return EntraIdSourceSettings.model_validate(entra_keys(emulator))


def with_certificate(emulator: EntraEmulator, pem: Path) -> EntraIdSourceSettings:
    keys = entra_keys(emulator, certificate_file=str(pem))
    del keys["client_secret_env"]
    return EntraIdSourceSettings.model_validate(keys)
