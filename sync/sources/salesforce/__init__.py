"""The Salesforce directory source: sign-in (auth), the query (soql), error mapping (faults)."""

from sync.sources.salesforce.source import SalesforceSource

__all__ = ["SalesforceSource"]
