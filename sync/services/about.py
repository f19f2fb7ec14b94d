"""What this installation is (`clomo-sync --version`): its version and the LDAP read path a
deployment gets (libldap where python-ldap is installed, else ldap3; docs/ldap.md)."""

from __future__ import annotations

from importlib.metadata import version

from sync.sources.ldap.connection import read_path


def about() -> list[str]:
    return [f"clomo-sync, version {version('clomo-sync')}", f"LDAP read: {read_path()}"]
