"""Real slapd servers for the LDAP source's tests (tests/support/slapd.py does the work).

Each `make_slapd(...)` call writes a configuration, loads the given LDIF entries with slapadd and
starts slapd on a free port; all are stopped when the test ends. Without slapd installed, the
fixture raises SlapdMissing, so the tests fail with the install command instead of skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.sources.ldap import LdapSource
from sync.sources.ldap.connection import Client, libldap_installed
from sync.sources.settings import LdapSourceSettings
from tests.support import slapd as S
from tests.support.certs import make_server_tls

PASSWORD_ENV = "CLOMO_TEST_LDAP_PASSWORD"

CLIENTS: tuple[Client, ...] = ("libldap", "ldap3")
MakeSlapd = Callable[..., S.Slapd]
MakeSource = Callable[..., LdapSource]


@pytest.fixture
def make_slapd(tmp_path: Path) -> Iterator[MakeSlapd]:
    servers: list[S.Slapd] = []

    def make(
        entries: Iterable[str],
        *,
        tls: bool | tuple[str, ...] = False,
        database_lines: tuple[str, ...] = (),
        debug_level: int = 0,
    ) -> S.Slapd:
        workdir = tmp_path / f"slapd{len(servers)}"
        names = tls if isinstance(tls, tuple) else ("127.0.0.1", "localhost")
        files = make_server_tls(workdir / "tls", names) if tls else None
        server = S.Slapd(workdir, tls=files, database_lines=database_lines, debug_level=debug_level)
        servers.append(server)
        server.load(S.write_ldif(workdir / "data.ldif", [S.base_ldif(), *entries]))
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> Client:
    """Each test of a source runs on both clients (sync.sources.ldap.libldap): python-ldap must
    be installed (scripts/setup installs the `ldap-c` extra), or the libldap runs fail."""
    if request.param == "libldap" and not libldap_installed():
        pytest.fail("python-ldap is not installed: pip install -e '.[ldap-c]' (scripts/setup)")
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_source(monkeypatch: pytest.MonkeyPatch, client: Client) -> MakeSource:
    """An LdapSource of the test's client, bound as the sync account of `server`, with a tiny
    retry bound."""
    monkeypatch.setenv(PASSWORD_ENV, S.SYNC_PW)

    def make(server: S.Slapd | str, **settings: Any) -> LdapSource:
        values: dict[str, Any] = {
            "kind": "ldap",
            "url": server if isinstance(server, str) else server.url,
            "bind_dn": S.SYNC_DN,
            "password_env": PASSWORD_ENV,
            "base_dn": S.PEOPLE,
            "retry_seconds": 0,
            "timeout_seconds": 5,
            **settings,
        }
        return LdapSource(LdapSourceSettings.model_validate(values), client=client)

    return make
