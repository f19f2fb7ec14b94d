"""The contract of sync.sources.ldap.lean, the one module that reads ldap3's internals: for the
same search, its entries hold exactly what ldap3's public API returns (the DN and every
attribute's raw values, in order), over several pages, binary and multi-valued values included.

Run it on every ldap3 release before adding it to `lean.VERIFIED` (docs/ldap.md says how); on a
release not listed the read falls back to ldap3's public response, which the last test checks.
"""

from __future__ import annotations

import base64
from typing import Any

import ldap3
import pytest
from ldap3 import NONE, SUBTREE, Connection, Server

from sync.sources.ldap import lean
from sync.sources.ldap.connection import Client, Endpoint
from sync.sources.ldap.ldap3_client import PagedSearch, open_connection
from sync.sources.ldap.values import RawAttributes
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S

NAMES = [
    "objectGUID", "mail", "proxyAddresses", "userPrincipalName", "displayName", "cn",
    "description", "whenChanged", "userAccountControl",
]  # fmt: skip
FILTER = "(objectClass=user)"
PAGED = "1.2.840.113556.1.4.319"


def _odd_person(index: int) -> str:
    """A GUID with bytes that are not UTF-8, a UTF-8 name, values in a chosen order."""
    guid = base64.b64encode(bytes(range(250, 256)) + bytes(10)).decode()
    entry = S.ad_person(index)
    line = next(line for line in entry.splitlines() if line.startswith("objectGUID"))
    entry = entry.replace(line, f"objectGUID:: {guid}")
    return entry.replace(
        "objectCategory: person",
        "objectCategory: person\ndescription: zweite\ndescription: erste\n"
        "description:: " + base64.b64encode("Ærø — 山田".encode()).decode(),
    )


def _read(endpoint: Endpoint) -> list[tuple[str, RawAttributes]]:
    search = PagedSearch(open_connection(endpoint, S.SYNC_PW), endpoint, FILTER, NAMES)
    entries = []
    while not search.done:
        entries += [(entry.dn, entry.attributes) for entry in search.next_page()]
    return entries


def _connect(url: str) -> Connection:
    # as the read's connection: an attribute the entry lacks is left out, not an empty list
    server = Server(url, get_info=NONE)
    return Connection(server, S.SYNC_DN, S.SYNC_PW, auto_bind=True, return_empty_attributes=False)


def _raw(item: dict[str, Any]) -> tuple[str, RawAttributes]:
    return item["dn"], {name.lower(): list(v) for name, v in item["raw_attributes"].items()}


def _paged_search(url: str) -> dict[str, RawAttributes]:
    """The same search through ldap3's public paged_search generator. It hands each page's
    entries on last first (it pops them off a list), so its entries are compared by DN."""
    found = _connect(url).extend.standard.paged_search(
        S.PEOPLE, FILTER, SUBTREE, attributes=NAMES, paged_size=2, generator=True
    )
    return dict(_raw(item) for item in found if item["type"] == "searchResEntry")


def _response(url: str) -> list[tuple[str, RawAttributes]]:
    """The same search page by page through ldap3's public `response`: in server order."""
    conn, cookie, entries = _connect(url), None, []
    while True:
        conn.search(S.PEOPLE, FILTER, SUBTREE, attributes=NAMES, paged_size=2, paged_cookie=cookie)
        entries += [_raw(item) for item in conn.response if item["type"] == "searchResEntry"]
        cookie = conn.result["controls"][PAGED]["value"]["cookie"]
        if not cookie:
            return entries


@pytest.fixture
def client() -> Client:
    """The lean path is the ldap3 client's."""
    return "ldap3"


@pytest.fixture
def endpoint(make_slapd: MakeSlapd, make_source: MakeSource) -> Endpoint:
    server = make_slapd([*S.people(4, "active_directory"), _odd_person(5)])
    source = make_source(server, dialect="active_directory", page_size=2)
    return Endpoint.of(source.settings)


def test_lean_entries_are_ldap3_public_entries(endpoint: Endpoint) -> None:
    conn = open_connection(endpoint, S.SYNC_PW)
    assert lean.install(conn, verified=frozenset({ldap3.__version__}))
    conn.unbind()

    lean_entries = _read(endpoint)
    assert len(lean_entries) == 5
    assert lean_entries == _response(endpoint.url)
    assert dict(lean_entries) == _paged_search(endpoint.url)
    odd = dict(lean_entries)[f"cn=user000005,{S.PEOPLE}"]
    assert odd["description"] == [b"zweite", b"erste", "Ærø — 山田".encode()]
    assert odd["objectguid"] == [bytes(range(250, 256)) + bytes(10)]


def test_the_installed_ldap3_is_verified() -> None:
    """A new ldap3: run the test above on it, then add it to lean.VERIFIED (docs/ldap.md)."""
    assert ldap3.__version__ in lean.VERIFIED, (
        f"ldap3 {ldap3.__version__} is not in sync.sources.ldap.lean.VERIFIED: the read uses "
        "ldap3's slower public response; verify it with this module and add it"
    )


def test_without_the_lean_path_the_read_takes_ldap3_public_entries(endpoint: Endpoint) -> None:
    from dataclasses import replace

    assert _read(replace(endpoint, lean_entries=False)) == _response(endpoint.url)
