"""LDAP and Active Directory source (`kind = "ldap"`): see source.py.

`LdapSource` is imported on first use, so the reader process (reader.py), which imports only
the reading code (connection.py, ldap3_client.py, lean.py, reader.py), does not load the
configuration code and pydantic with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.sources.ldap.source import LdapSource


def __getattr__(name: str) -> Any:
    if name == "LdapSource":
        from sync.sources.ldap.source import LdapSource

        return LdapSource
    raise AttributeError(name)


__all__ = ["LdapSource"]
