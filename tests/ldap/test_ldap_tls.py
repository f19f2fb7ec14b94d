"""TLS with a certificate the test makes: verified by default, refused without the right CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import SourceUnavailable, StopRun
from sync.sources.ldap.connection import client_for
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.certs import make_ca
from tests.support.reading import collect, request


@pytest.fixture
def tls_server(make_slapd: MakeSlapd) -> S.Slapd:
    return make_slapd(S.people(3), tls=True)


def _ca(server: S.Slapd) -> Path:
    assert server.tls is not None
    return server.tls.ca_cert


def test_ldaps_with_the_servers_ca(tls_server: S.Slapd, make_source: MakeSource) -> None:
    source = make_source(tls_server.ldaps_url, ca_file=_ca(tls_server))

    assert len(collect(source.read(request("primary_email"))).users) == 3


def test_start_tls_with_the_servers_ca(tls_server: S.Slapd, make_source: MakeSource) -> None:
    source = make_source(tls_server, ca_file=_ca(tls_server), start_tls=True)

    assert len(collect(source.read(request("primary_email"))).users) == 3


def test_the_host_name_localhost_is_checked_too(
    tls_server: S.Slapd, make_source: MakeSource
) -> None:
    url = f"ldaps://localhost:{tls_server.tls_port}"
    source = make_source(url, ca_file=_ca(tls_server))
    # libldap would check the certificate against this machine's own name: ldap3 reads there
    source.client = client_for(url, start_tls=False)

    assert source.client == "ldap3"
    assert len(collect(source.read(request("mail"))).users) == 3


@pytest.mark.parametrize("start_tls", [False, True])
def test_without_a_ca_file_the_system_store_does_not_trust_it(
    tls_server: S.Slapd, make_source: MakeSource, start_tls: bool
) -> None:
    url = tls_server.url if start_tls else tls_server.ldaps_url
    source = make_source(url, start_tls=start_tls, retry_seconds=5)

    # not retried: a certificate that fails today fails again in a minute
    with pytest.raises(SourceUnavailable, match=r"TLS failed.*CERTIFICATE_VERIFY_FAILED.*ca_file"):
        collect(source.read(request("primary_email")))


@pytest.mark.parametrize("start_tls", [False, True])
def test_another_ca_is_refused(
    tls_server: S.Slapd, make_source: MakeSource, tmp_path: Path, start_tls: bool
) -> None:
    other, _key = make_ca(tmp_path / "other", "some other CA")
    url = tls_server.url if start_tls else tls_server.ldaps_url
    source = make_source(url, ca_file=other, start_tls=start_tls)

    with pytest.raises(SourceUnavailable, match=r"CERTIFICATE_VERIFY_FAILED"):
        collect(source.read(request("primary_email")))


def test_a_missing_ca_file_is_a_clear_error(
    tls_server: S.Slapd, make_source: MakeSource, tmp_path: Path
) -> None:
    source = make_source(tls_server.ldaps_url, ca_file=tmp_path / "absent.pem")

    with pytest.raises(StopRun, match=r"ca_file .*absent.pem.*cannot be read"):
        collect(source.read(request("primary_email")))


def test_a_certificate_for_another_host_is_refused(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """The right CA is not enough: the certificate must name the host the url names."""
    server = make_slapd(S.people(1), tls=("ldap.example.com",))
    source = make_source(server.ldaps_url, ca_file=_ca(server))

    with pytest.raises(
        SourceUnavailable,
        match=r"TLS failed: the server.s certificate doesn.t match the host in url",
    ):
        collect(source.read(request("primary_email")))
