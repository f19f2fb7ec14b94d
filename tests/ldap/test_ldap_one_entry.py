"""The filter that reads one person alone (ReadRequest.only, SPEC §18), per dialect: the id as
the server stores it, or the DN on the dialect's DN attribute; a key that cannot be an id asks
for nothing (the read is then of everyone, filtered by the caller)."""

from __future__ import annotations

import pytest

from sync.sources.ldap.dialects import ACTIVE_DIRECTORY, OPENLDAP, Dialect, places_for
from sync.sources.ldap.source import one_entry_filter

GUID = "01020304-0506-0708-090a-0b0c0d0e0f10"


@pytest.mark.parametrize(
    ("dialect", "mapped", "key", "expected"),
    [
        (OPENLDAP, {}, GUID.upper(), f"(entryUUID={GUID})"),
        (OPENLDAP, {}, "uid=a(1),ou=people,dc=x", r"(entryDN=uid=a\281\29,ou=people,dc=x)"),
        (OPENLDAP, {}, "taro@example.com", None),  # no UUID: entryUUID cannot hold it
        (OPENLDAP, {"source_id": "uid"}, "taro*", r"(uid=taro\2a)"),
        (OPENLDAP, {"source_id": "uid, employeeNumber"}, "E1", "(|(uid=E1)(employeeNumber=E1))"),
        # objectGUID: the first three fields little-endian, as the DC stores the 16 bytes
        (
            ACTIVE_DIRECTORY,
            {},
            GUID,
            r"(objectGUID=\04\03\02\01\06\05\08\07\09\0a\0b\0c\0d\0e\0f\10)",
        ),
        (
            ACTIVE_DIRECTORY,
            {},
            "CN=Taro,OU=Staff,DC=corp",
            "(distinguishedName=CN=Taro,OU=Staff,DC=corp)",
        ),
        (ACTIVE_DIRECTORY, {}, "tyamada", None),
    ],
)
def test_one_entry_filters(
    dialect: Dialect, mapped: dict[str, str], key: str, expected: str | None
) -> None:
    assert one_entry_filter(dialect, places_for(dialect, mapped), key) == expected
