"""Directory sources, one module each, picked by `kind` from this registry (STYLE.md 1).

Modules are imported only when a tenant uses them, so a CSV tenant never loads ldap3 or Google's
client library.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sync.sources.base import DirectorySource

SOURCE_CLASSES: dict[str, str] = {
    "csv": "sync.sources.csv:CsvSource",
    "ldap": "sync.sources.ldap:LdapSource",
    "google_workspace": "sync.sources.google_workspace.source:GoogleWorkspaceSource",
    "salesforce": "sync.sources.salesforce:SalesforceSource",
}


def open_source(settings: Any) -> DirectorySource:
    """The source for a `[tenants.source]` or `[[tenants.lookups]]` table."""
    module_name, _, class_name = SOURCE_CLASSES[settings.kind].partition(":")
    source_class = getattr(import_module(module_name), class_name)
    source: DirectorySource = source_class(settings)
    return source
