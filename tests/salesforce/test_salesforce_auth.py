"""Signing in: JWT bearer (the emulator verifies the assertion with the test's public key), the
password + security token fallback, TLS verification, and bad credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from sync.errors import SourceUnavailable, StopRun
from sync.sources.base import ReadRequest
from sync.sources.salesforce.auth import jwt_audience
from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import JwtKeys, Tls, read_all

MINIMAL = ReadRequest(attributes=frozenset())


def password_settings(
    emulator: SalesforceEmulator, tls: Tls, monkeypatch: pytest.MonkeyPatch, password: str
) -> SalesforceSourceSettings:
    monkeypatch.setenv("ACME_SF_PASSWORD", password)
    monkeypatch.setenv("ACME_SF_TOKEN", emulator.security_token)
    return SalesforceSourceSettings(
        kind="salesforce",
        login_url=emulator.url,
        username=emulator.username,
        password_env="ACME_SF_PASSWORD",
        security_token_env="ACME_SF_TOKEN",
        ca_file=tls.ca_file,
        retry_max_seconds=1,
    )


def test_password_and_security_token_sign_in_through_soap_login(
    emulator: SalesforceEmulator, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = password_settings(emulator, tls, monkeypatch, emulator.password)

    pages, result = read_all(settings, MINIMAL)

    assert sum(len(p.users) for p in pages) == 7 and result.full
    assert ("POST", "/services/Soap/u/59.0") in emulator.requests
    assert ("POST", "/services/oauth2/token") not in emulator.requests


def test_a_wrong_password_is_refused_without_showing_it(
    emulator: SalesforceEmulator, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = password_settings(emulator, tls, monkeypatch, "Wr0ng&<secret>")

    with pytest.raises(
        SourceUnavailable, match="INVALID_LOGIN: Invalid username, password"
    ) as caught:
        read_all(settings, MINIMAL)
    assert "Wr0ng" not in str(caught.value) and emulator.security_token not in str(caught.value)
    assert emulator.data_requests == 0


def test_a_password_variable_that_is_not_set_is_named(
    emulator: SalesforceEmulator, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = password_settings(emulator, tls, monkeypatch, "x")
    monkeypatch.delenv("ACME_SF_PASSWORD")

    with pytest.raises(StopRun, match="environment variable ACME_SF_PASSWORD is not set"):
        read_all(settings, MINIMAL)


def test_a_consumer_key_salesforce_does_not_know_is_refused(
    settings: SalesforceSourceSettings,
) -> None:
    wrong = settings.model_copy(update={"consumer_key": "3MVG9someOtherApp"})

    with pytest.raises(SourceUnavailable, match="invalid_client_id: client identifier invalid"):
        read_all(wrong, MINIMAL)


def test_an_assertion_signed_by_another_key_is_refused(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings, tmp_path: Path
) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(SourceUnavailable, match="invalid_grant: invalid assertion"):
        read_all(settings.model_copy(update={"private_key_file": other}), MINIMAL)
    assert emulator.sign_ins == 0


def test_a_user_that_has_not_approved_the_app_is_refused(
    settings: SalesforceSourceSettings,
) -> None:
    with pytest.raises(SourceUnavailable, match="hasn't approved this consumer"):
        read_all(settings.model_copy(update={"username": "someone@acme.example.sfdc"}), MINIMAL)


def test_the_audience_must_be_what_the_server_expects(settings: SalesforceSourceSettings) -> None:
    with pytest.raises(SourceUnavailable, match="audience is invalid"):
        read_all(
            settings.model_copy(update={"jwt_audience": "https://login.salesforce.com"}), MINIMAL
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all\n", "is not a PEM private key"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "is not a PEM private key",
        ),
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "is not an RSA key",
        ),
        (
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            ),
            "is encrypted",
        ),
    ],
    ids=["garbage", "bad-base64", "ec-key", "encrypted"],
)
def test_a_bad_private_key_is_named_and_nothing_is_sent(
    emulator: SalesforceEmulator,
    settings: SalesforceSourceSettings,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    key_file = tmp_path / "bad.key"
    key_file.write_bytes(content)

    with pytest.raises(StopRun, match=f"private key \\(file {key_file}\\) {message}") as caught:
        read_all(settings.model_copy(update={"private_key_file": key_file}), MINIMAL)
    assert "AAAA" not in str(caught.value)
    assert emulator.requests == []


def test_a_missing_private_key_file_is_named(
    settings: SalesforceSourceSettings, tmp_path: Path
) -> None:
    with pytest.raises(StopRun, match=r"cannot read secret file .*absent.key"):
        read_all(settings.model_copy(update={"private_key_file": tmp_path / "absent.key"}), MINIMAL)


def test_a_private_key_in_a_variable_with_escaped_newlines(
    emulator: SalesforceEmulator,
    settings: SalesforceSourceSettings,
    jwt_keys: JwtKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_SF_KEY", jwt_keys.private_pem.decode().replace("\n", "\\n"))
    from_env = settings.model_copy(
        update={"private_key_file": None, "private_key_env": "ACME_SF_KEY"}
    )

    pages, _ = read_all(from_env, MINIMAL)

    assert sum(len(p.users) for p in pages) == 7 and emulator.sign_ins == 1


def test_tls_is_verified_against_requests_ca_bundle_without_ca_file(
    emulator: SalesforceEmulator,
    settings: SalesforceSourceSettings,
    tls: Tls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_ca = settings.model_copy(update={"ca_file": None, "retry_max_seconds": 0.3})
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(SourceUnavailable, match=r"TLS failed.*CERTIFICATE_VERIFY_FAILED"):
        read_all(no_ca, MINIMAL)
    assert emulator.sign_ins == 0

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_file))
    pages, _ = read_all(no_ca, MINIMAL)
    assert sum(len(p.users) for p in pages) == 7


def test_ca_file_wins_over_requests_ca_bundle(
    settings: SalesforceSourceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")

    pages, _ = read_all(settings, MINIMAL)

    assert sum(len(p.users) for p in pages) == 7


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com/", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.site.com/customers", "https://acme.my.site.com/customers"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_the_jwt_audience_follows_the_login_url(login_url: str, audience: str) -> None:
    settings = SalesforceSourceSettings(
        kind="salesforce",
        login_url=login_url,
        consumer_key="k",
        private_key_env="K",
        username="u@example.com",
    )

    assert jwt_audience(settings) == audience


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"consumer_key": "k", "private_key_env": "K"}, "username is required"),
        ({"username": "u", "consumer_key": "k"}, "needs private_key_file or private_key_env"),
        ({"username": "u", "private_key_env": "K"}, "consumer_key is required"),
        ({"username": "u"}, "or password_env"),
        (
            {"username": "u", "password_env": "P", "attributes": {"employee_code": "Id, Name"}},
            "not Salesforce field names",
        ),
        (
            {"username": "u", "password_env": "P", "lookup_field": "Id FROM User --"},
            "is not a Salesforce field name",
        ),
    ],
)
def test_settings_that_cannot_sign_in_are_rejected_at_load(
    keys: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SalesforceSourceSettings(kind="salesforce", **keys)
