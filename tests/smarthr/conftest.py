"""Fixtures for the SmartHR source: the emulator (tests/smarthr/emulator.py) on 127.0.0.1 for
each test, its access token in an environment variable, and the source keys that reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync.sources.settings import SmartHrSourceSettings
from tests.smarthr.emulator import TOKEN, SmartHrEmulator, make_crew

TOKEN_ENV = "CLOMO_TEST_SMARTHR_TOKEN"
WEBHOOK_ENV = "CLOMO_TEST_SMARTHR_WEBHOOK"
WEBHOOK_TOKEN = "whk_test_fedcba9876543210"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmartHrEmulator]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(WEBHOOK_ENV, WEBHOOK_TOKEN)
    server = SmartHrEmulator(crews=[make_crew(n) for n in range(1, 8)]).start()
    yield server
    server.stop()
    assert server.unknown == [], f"requests the emulator does not know: {server.unknown}"


def smarthr_keys(emulator: SmartHrEmulator, **keys: object) -> dict[str, object]:
    """The `[tenants.source]` keys of a tenant on the emulator, with a short retry budget."""
    return {
        "kind": "smarthr",
        "base_url": emulator.url,
        "access_token_env": TOKEN_ENV,
        "webhook_token_env": WEBHOOK_ENV,
        "timeout_seconds": 5,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.5,
        **keys,
    }


@pytest.fixture
def settings(emulator: SmartHrEmulator) -> SmartHrSourceSettings:
    return SmartHrSourceSettings.model_validate(smarthr_keys(emulator))
