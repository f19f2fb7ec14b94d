"""Salesforce's and requests' exceptions mapped, in this one place, to the worker's vocabulary.

REST errors come back as a JSON list of `{"errorCode", "message"}` objects (simple-salesforce keeps
it in `SalesforceError.content`): https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
api_rest/errorcodes.htm
"""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError

from sync.errors import SourceUnavailable, StopRun, SyncError, TransientError

# Codes that mean the query itself is wrong: the tenant's `where` or `attributes` must change.
QUERY_REJECTED = {
    "MALFORMED_QUERY",
    "INVALID_FIELD",
    "INVALID_TYPE",
    "INVALID_QUERY_FILTER_OPERATOR",
}


class SessionExpired(Exception):
    """The access token is no longer accepted (INVALID_SESSION_ID): sign in again and resume."""


def error_code(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a REST error body, ("", text) when it is not the usual list."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    return "", str(content)[:300]


def translate(exc: Exception, where: str) -> SyncError | SessionExpired:
    """The worker's error for a failed call; `where` names the call for the message."""
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceUnavailable(
            f"Salesforce {where}: TLS failed ({_reason(exc)}); the server's certificate must be "
            "trusted by the system store, REQUESTS_CA_BUNDLE or the source's ca_file"
        )
    if isinstance(
        exc,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
    ):
        return TransientError(f"Salesforce {where}: {type(exc).__name__}: {_reason(exc)}")
    if isinstance(exc, requests.RequestException):
        return StopRun(f"Salesforce {where}: unusable response: {exc}")
    if isinstance(exc, SalesforceError):
        return _from_rest(exc, where)
    return StopRun(f"Salesforce {where}: unexpected {type(exc).__name__}: {exc}")


def _from_rest(exc: SalesforceError, where: str) -> SyncError | SessionExpired:
    code, message = error_code(exc.content)
    said = f"{code}: {message}" if code else f"HTTP {exc.status}: {message}"
    if code == "INVALID_SESSION_ID":
        return SessionExpired(said)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return StopRun(
            "Salesforce refused the read: the organisation's API request allowance for the "
            f"last 24 hours is spent ({said}). Nothing was changed; run again once Salesforce "
            "accepts API requests (Setup > Company Information shows the allowance)"
        )
    if exc.status >= 500:
        return TransientError(f"Salesforce {where}: {said}")
    if code in QUERY_REJECTED:
        return StopRun(
            f"Salesforce rejected the user query ({said}); check the source's `where` "
            "and `attributes` settings"
        )
    if exc.status in (401, 403):
        return SourceUnavailable(f"Salesforce {where}: access refused ({said})")
    if exc.status == 404:
        return SourceUnavailable(
            f"Salesforce {where}: not found ({said}); is api_version supported by the org?"
        )
    return StopRun(f"Salesforce {where}: {said}")


def _reason(exc: requests.RequestException) -> str:
    """The innermost reason, without the URL's query string (it can be long)."""
    reason: BaseException = exc
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    return str(reason) or type(reason).__name__
