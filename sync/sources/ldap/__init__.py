"""LDAP and Active Directory source (`kind = "ldap"`): see source.py."""

from sync.sources.ldap.source import LdapSource

__all__ = ["LdapSource"]
