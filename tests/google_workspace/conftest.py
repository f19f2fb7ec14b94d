"""Fixtures for the Google Workspace source: a generated service-account key and the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.sources.settings import GoogleWorkspaceSourceSettings
from tests.google_workspace.google_emulator import ADMIN, CLIENT_EMAIL, GoogleEmulator
from tests.google_workspace.google_keys import ServiceKey, generate_key


@pytest.fixture(scope="session")
def service_key() -> ServiceKey:
    return generate_key("4f1d2c3b5a69788796a5b4c3d2e1f0a9b8c7d6e5")


@pytest.fixture
def emulator(service_key: ServiceKey) -> Iterator[GoogleEmulator]:
    server = GoogleEmulator(service_key.public_pem, CLIENT_EMAIL, service_key.key_id, ADMIN)
    server.start()
    yield server
    server.stop()
    assert server.errors == [], "the emulator was sent requests it does not know"


@pytest.fixture
def key_file(tmp_path: Path, service_key: ServiceKey, emulator: GoogleEmulator) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_key.json_for(emulator.token_uri)), encoding="utf-8")
    return path


@pytest.fixture
def settings(emulator: GoogleEmulator, key_file: Path) -> GoogleWorkspaceSourceSettings:
    """A source as a tenant would configure it, with a retry bound small enough for tests."""
    return GoogleWorkspaceSourceSettings(
        kind="google_workspace",
        credentials_file=key_file,
        subject=ADMIN,
        api_endpoint=emulator.url,
        timeout_seconds=5,
        retry_initial_seconds=0.01,
        retry_max_seconds=0.5,
    )


def google_keys(emulator: GoogleEmulator, key_file: Path) -> dict[str, object]:
    """The `[tenants.source]` keys of a tenant on the emulator, with a short retry budget."""
    return {
        "kind": "google_workspace",
        "credentials_file": str(key_file),
        "subject": ADMIN,
        "api_endpoint": emulator.url,
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.5,
    }
