"""Bad keys, missing delegation, wrong customer or domain, bad settings: each stops the run at
once with a message an administrator can act on, and never shows the key."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sync.errors import SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.google_workspace.source import GoogleWorkspaceSource
from sync.sources.settings import GoogleWorkspaceSourceSettings
from tests.google_workspace.google_emulator import GoogleEmulator, make_user
from tests.google_workspace.google_keys import ServiceKey, generate_key

REQUEST = ReadRequest(frozenset({"primary_email", "employee_code"}))


def read(settings: GoogleWorkspaceSourceSettings) -> None:
    for _page in GoogleWorkspaceSource(settings).read(REQUEST):
        pass


def key_with(service_key: ServiceKey, emulator: GoogleEmulator, **changes: Any) -> str:
    key = service_key.json_for(emulator.token_uri) | changes
    return json.dumps({k: v for k, v in key.items() if v is not None})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json", r"is not a JSON key: Expecting value at line 1 column 1"),
        (
            '{"type": "authorized_user", "client_id": "x"}',
            r"not a service-account key .*authorized",
        ),
        ("[1, 2]", r"not a service-account key \(type 'list'\)"),
        ("MISSING_PRIVATE_KEY", r"the key has no private_key"),
        ("GARBLED_PRIVATE_KEY", r"private_key is not a PEM-encoded RSA private key"),
    ],
)
def test_a_malformed_key_file_stops_the_run_naming_the_file(
    emulator: GoogleEmulator,
    service_key: ServiceKey,
    settings: GoogleWorkspaceSourceSettings,
    key_file: Path,
    content: str,
    message: str,
) -> None:
    garbled = "-----BEGIN PRIVATE KEY-----\nTUlJRXZnSUJBREFOQmdrcWhraUc5dzBCQVFFRgo=\n-----END..."
    if content == "MISSING_PRIVATE_KEY":
        content = key_with(service_key, emulator, private_key=None)
    if content == "GARBLED_PRIVATE_KEY":
        content = key_with(service_key, emulator, private_key=garbled)
    key_file.write_text(content, encoding="utf-8")

    with pytest.raises(SourceUnavailable, match=message) as raised:
        read(settings)

    assert f"credentials_file {key_file}" in str(raised.value)
    assert "TUlJRX" not in str(raised.value)  # never a piece of the key
    assert emulator.list_requests == [] and emulator.token_claims == []


def test_a_key_in_an_environment_variable_is_used(
    emulator: GoogleEmulator,
    service_key: ServiceKey,
    settings: GoogleWorkspaceSourceSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.users = [make_user(1)]
    monkeypatch.setenv("ACME_GOOGLE_KEY", key_with(service_key, emulator))
    from_env = settings.model_copy(
        update={"credentials_file": None, "credentials_env": "ACME_GOOGLE_KEY"}
    )

    pages = list(GoogleWorkspaceSource(from_env).read(REQUEST))

    assert [u.primary_email for u in pages[0].users] == ["user00001@example.com"]


def test_an_unset_key_variable_is_named(settings: GoogleWorkspaceSourceSettings) -> None:
    from_env = settings.model_copy(
        update={"credentials_file": None, "credentials_env": "NO_SUCH_GOOGLE_KEY_VARIABLE"}
    )
    with pytest.raises(StopRun, match="NO_SUCH_GOOGLE_KEY_VARIABLE is not set"):
        read(from_env)


def test_a_key_without_domain_wide_delegation_is_refused_by_the_token_endpoint(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.delegation = False

    with pytest.raises(SourceUnavailable, match="unauthorized_client") as raised:
        read(settings)

    assert "domain-wide delegation" in str(raised.value)
    assert "acting as admin@example.com" in str(raised.value)
    assert emulator.list_requests == []


def test_a_subject_without_rights_is_refused_on_every_call_without_retrying(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.forbidden = True

    with pytest.raises(SourceUnavailable, match="HTTP 403 forbidden: Not Authorized") as raised:
        read(settings)

    assert "must be an administrator" in str(raised.value)
    assert len(emulator.list_requests) == 1  # a refusal is not retried


def test_a_key_the_server_does_not_know_is_refused(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings, key_file: Path
) -> None:
    stranger = generate_key(emulator.key_id)  # same key id, another key pair
    key_file.write_text(json.dumps(stranger.json_for(emulator.token_uri)), encoding="utf-8")

    with pytest.raises(SourceUnavailable, match="invalid_grant: Invalid JWT Signature"):
        read(settings)


def test_the_key_files_token_uri_is_where_the_token_is_asked(
    emulator: GoogleEmulator,
    service_key: ServiceKey,
    settings: GoogleWorkspaceSourceSettings,
    key_file: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}/token"
    key_file.write_text(key_with(service_key, emulator, token_uri=nowhere), encoding="utf-8")

    with pytest.raises(SourceUnavailable, match=r"cannot reach Google: .*Connection refused"):
        read(settings)

    assert emulator.token_claims == [] and emulator.list_requests == []


def test_an_unknown_customer_stops_the_run_naming_it(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    wrong = settings.model_copy(update={"customer": "C0nosuch"})

    with pytest.raises(StopRun, match=r"HTTP 400 badRequest: Bad Request.*customer 'C0nosuch'"):
        read(wrong)

    assert len(emulator.list_requests) == 1


def test_a_domain_of_another_customer_is_refused(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    wrong = settings.model_copy(update={"domain": "example.org"})

    with pytest.raises(SourceUnavailable, match="HTTP 403 forbidden"):
        read(wrong)


def test_a_bad_extra_field_stops_the_run(settings: GoogleWorkspaceSourceSettings) -> None:
    request = ReadRequest(frozenset({"primary_email"}), extra_fields=frozenset({"Federation Id"}))
    with pytest.raises(StopRun, match="'Federation Id' is not a Google field path"):
        list(GoogleWorkspaceSource(settings).read(request))


def test_a_required_attribute_google_does_not_hold_stops_the_run_at_once(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    request = ReadRequest(
        frozenset({"salesforce_account"}), required=frozenset({"salesforce_account"})
    )
    with pytest.raises(StopRun, match="no default field for salesforce_account; map one"):
        list(GoogleWorkspaceSource(settings).read(request))
    assert emulator.list_requests == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "exactly one of credentials_file or credentials_env"),
        (
            {"credentials_file": "k.json", "credentials_env": "K"},
            "exactly one of credentials_file or credentials_env",
        ),
        ({"credentials_env": "K", "customer": "C01", "domain": "a.com"}, "customer or domain"),
        ({"credentials_env": "K", "attributes": {"active": "suspended"}}, "attributes.active"),
        (
            {"credentials_env": "K", "attributes": {"employee_code": "externalIds[organization"}},
            r"attributes.employee_code: .*\(unexpected '\[' at position 11\)",
        ),
        ({"credentials_env": "K", "api_endpoint": "127.0.0.1:8080"}, "should match pattern"),
    ],
)
def test_settings_are_checked_when_the_configuration_is_read(
    keys: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        GoogleWorkspaceSourceSettings.model_validate({"kind": "google_workspace", **keys})
