"""Search entries straight from ldap3's BER decoding: the one module that uses ldap3's internals.

For every search entry ldap3 builds two case-insensitive dictionaries (`raw_attributes`, and
`attributes` with every value decoded to text), which costs more than decoding the BER itself;
a read uses neither (values are decoded from the raw bytes in sync.sources.ldap.values). Here the
connection's `strategy.decode_response_fast` (an internal of ldap3, not its API) is wrapped so a
search entry becomes a `RawEntry` from ldap3's decoded BER tuples directly; every other response
stays ldap3's own. docs/ldap.md has the measurement that justifies it.

It is used only on the ldap3 versions in `VERIFIED`, each checked by the contract test
(tests/ldap/test_ldap_lean_contract.py: the same search through ldap3's public API gives the same
DNs and raw values). On any other version `install` declines and the read takes the entries from
ldap3's public response (`entry_of`), slower but correct.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import ldap3
from ldap3 import Connection
from ldap3.utils.conv import to_unicode

from sync.sources.ldap.values import RawEntry

# ldap3 releases whose decoded-BER layout the contract test has passed on
VERIFIED = frozenset({"2.9.1"})


def install(conn: Connection, verified: frozenset[str] = VERIFIED) -> bool:
    """Has `conn` return search entries as `RawEntry`s; False (nothing changed) on an ldap3
    version not in `verified` (the contract test passes the version it checks). Call before the
    connection's first search."""
    if ldap3.__version__ not in verified:
        return False
    strategy = conn.strategy
    decode_response = strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != 4:  # searchResEntry
            return decode_response(message)  # type: ignore[no-any-return]
        entry = _raw_entry(message["payload"])
        response = {"type": "searchResEntry", "entry": entry, "raw_attributes": entry.attributes}
        if any(";range=" in name for name in entry.attributes):
            # AD's ranged values: ldap3's auto-range search fills both dictionaries
            response["attributes"] = {k: list(v) for k, v in entry.attributes.items()}
        return response

    strategy.decode_response_fast = decode
    return True


def entry_of(item: dict[str, Any]) -> RawEntry:
    """A searchResEntry of `conn.response` as a RawEntry, lean or from ldap3's public fields."""
    entry = item.get("entry")
    if isinstance(entry, RawEntry):
        return entry
    attributes = {
        _attribute_name(name.encode("utf-8")): list(values or ())
        for name, values in item["raw_attributes"].items()
    }
    return RawEntry(item["dn"], attributes)


def _raw_entry(payload: list[Any]) -> RawEntry:
    """An entry from ldap3's decoded BER: payload[0] the DN, payload[1] the attributes, each a
    (type, values) sequence; every element is ldap3's (class, constructed, tag, value)."""
    raw_dn = payload[0][3]
    try:
        dn = raw_dn.decode("utf-8")
    except UnicodeDecodeError:  # AD may send a DN in another encoding; ldap3 knows which
        dn = to_unicode(raw_dn, from_server=True)
    attributes: dict[str, list[bytes]] = {}
    for attribute in payload[1][3]:
        name, values = attribute[3]
        attributes[_attribute_name(name[3])] = [v[3] for v in values[3]]
    return RawEntry(dn, attributes)


@lru_cache(maxsize=1024)
def _attribute_name(raw: bytes) -> str:
    """An attribute's name, lower-cased, as one shared string per name: decoded once, and a
    pickled page (sync.sources.ldap.reader) then carries each name once, not once per entry."""
    return raw.decode("utf-8", "replace").lower()
