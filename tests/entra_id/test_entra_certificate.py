"""Certificate credentials (Microsoft's recommendation): MSAL signs a client assertion with the
PEM's key; the emulator checks it against the certificate registered on the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import SourceUnavailable, StopRun
from sync.model import PROFILE_ATTRIBUTES
from sync.sources import open_source
from sync.sources.base import ReadRequest, ReadResult, drain
from tests.entra_id.conftest import with_certificate
from tests.entra_id.emulator import EntraEmulator
from tests.entra_id.keys import AppCertificate, make_app_certificate

REQUEST = ReadRequest(frozenset(PROFILE_ATTRIBUTES))


def read(emulator: EntraEmulator, pem: Path) -> ReadResult:
    result = list(drain(open_source(with_certificate(emulator, pem)).read(REQUEST)))[-1]
    assert isinstance(result, ReadResult)
    return result


def test_the_registered_certificate_signs_in(
    emulator: EntraEmulator, app_certificate: AppCertificate
) -> None:
    result = read(emulator, app_certificate.pem_file)

    assert result.full is True and result.stats["users"] == 7
    [header] = emulator.assertion_headers  # one assertion, reused by MSAL's token cache
    assert header["alg"] == "PS256"
    assert header["x5t#S256"].rstrip("=") == app_certificate.thumbprint_s256


def test_a_certificate_not_registered_on_the_app_is_refused_by_name(
    emulator: EntraEmulator, tmp_path: Path
) -> None:
    other = make_app_certificate(tmp_path / "other.pem")

    with pytest.raises(SourceUnavailable) as caught:
        read(emulator, other.pem_file)

    message = str(caught.value)
    assert f"refused the client credential (certificate_file {other.pem_file})" in message
    assert "AADSTS700027" in message and "upload this certificate" in message
    assert "PRIVATE KEY" not in message


def test_an_expired_certificate_is_named_before_any_request(
    emulator: EntraEmulator, tmp_path: Path
) -> None:
    expired = make_app_certificate(tmp_path / "expired.pem", valid_days=-1)

    with pytest.raises(StopRun) as caught:
        read(emulator, expired.pem_file)

    assert f"certificate_file {expired.pem_file}: the certificate expired on" in str(caught.value)
    assert emulator.requests == []


def test_a_pem_without_its_private_key_is_named(
    emulator: EntraEmulator, app_certificate: AppCertificate, tmp_path: Path
) -> None:
    only_certificate = tmp_path / "public.pem"
    text = app_certificate.pem_file.read_text()
    only_certificate.write_text(text[text.index("-----BEGIN CERTIFICATE") :])

    with pytest.raises(StopRun, match="holds no unencrypted PEM private key"):
        read(emulator, only_certificate)


def test_a_pem_whose_certificate_is_of_another_key_is_named(
    emulator: EntraEmulator, app_certificate: AppCertificate, tmp_path: Path
) -> None:
    other = make_app_certificate(tmp_path / "other.pem").pem_file.read_text()
    mixed = tmp_path / "mixed.pem"
    own = app_certificate.pem_file.read_text()
    mixed.write_text(
        own[: own.index("-----BEGIN CERTIFICATE")] + other[other.index("-----BEGIN CERTIFICATE") :]
    )

    with pytest.raises(StopRun, match="holds no certificate for its private key"):
        read(emulator, mixed)
