"""Directory sources, one module each, picked by `kind` from this registry (STYLE.md 1).

Each opener imports its module only when a tenant uses it, so a CSV tenant never loads ldap3,
Google's client library or MSAL, and the LDAP reader process (which imports this package on its
way to sync.sources.ldap.connection) does not load pydantic with the settings classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sync.sources.base import DirectorySource

if TYPE_CHECKING:
    from sync.sources.settings import SourceSettings

Opener = Callable[["SourceSettings"], DirectorySource]
S = TypeVar("S", bound="SourceSettings")


def _settings(settings: SourceSettings, expected: type[S]) -> S:
    if not isinstance(settings, expected):
        raise TypeError(f"{type(settings).__name__} given for kind {settings.kind!r}")
    return settings


def _csv(settings: SourceSettings) -> DirectorySource:
    from sync.sources.csv import CsvSource
    from sync.sources.settings import CsvSourceSettings

    return CsvSource(_settings(settings, CsvSourceSettings))


def _ldap(settings: SourceSettings) -> DirectorySource:
    from sync.sources.ldap import LdapSource
    from sync.sources.settings import LdapSourceSettings

    return LdapSource(_settings(settings, LdapSourceSettings))


def _google_workspace(settings: SourceSettings) -> DirectorySource:
    from sync.sources.google_workspace.source import GoogleWorkspaceSource
    from sync.sources.settings import GoogleWorkspaceSourceSettings

    return GoogleWorkspaceSource(_settings(settings, GoogleWorkspaceSourceSettings))


def _salesforce(settings: SourceSettings) -> DirectorySource:
    from sync.sources.salesforce import SalesforceSource
    from sync.sources.settings import SalesforceSourceSettings

    return SalesforceSource(_settings(settings, SalesforceSourceSettings))


def _entra_id(settings: SourceSettings) -> DirectorySource:
    from sync.sources.entra_id.source import EntraIdSource
    from sync.sources.settings import EntraIdSourceSettings

    return EntraIdSource(_settings(settings, EntraIdSourceSettings))


def _smarthr(settings: SourceSettings) -> DirectorySource:
    from sync.sources.settings import SmartHrSourceSettings
    from sync.sources.smarthr.source import SmartHrSource

    return SmartHrSource(_settings(settings, SmartHrSourceSettings))


def _scim(settings: SourceSettings) -> DirectorySource:
    from sync.sources.scim import ScimSource
    from sync.sources.settings import ScimSourceSettings

    return ScimSource(_settings(settings, ScimSourceSettings))


SOURCES: dict[str, Opener] = {
    "csv": _csv,
    "ldap": _ldap,
    "google_workspace": _google_workspace,
    "salesforce": _salesforce,
    "entra_id": _entra_id,
    "smarthr": _smarthr,
    "scim": _scim,
}


# kinds whose read of one person (ReadRequest.only) asks the server for that entry alone; the
# others read everyone and sync.services.directory.feed keeps the person (docs/explain.md)
ONE_ENTRY_READS = frozenset({"entra_id", "google_workspace", "ldap", "salesforce", "smarthr"})


def open_source(settings: SourceSettings) -> DirectorySource:
    """The source for a `[tenants.source]` or `[[tenants.lookups]]` table."""
    return SOURCES[settings.kind](settings)
