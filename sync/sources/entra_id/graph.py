"""Microsoft Graph GET requests: the bearer token, the retry policy, and the one place where
Graph's answers become the worker's error vocabulary (STYLE.md 6).

429, 503 and 504 (and a dropped connection) are retried through sync.retry, never sooner than
Graph's Retry-After, within `retry_max_seconds`; 410 is `DeltaExpired` for the caller to restart
in full; anything else stops the run with a message naming the configuration key to look at.
https://learn.microsoft.com/graph/throttling https://learn.microsoft.com/graph/errors
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from sync.errors import SourceUnavailable, StopRun, TransientError
from sync.retry import retrying
from sync.sources.bearer import BearerAuth
from sync.sources.entra_id.credentials import TokenSource, network_failure
from sync.sources.settings import EntraIdSourceSettings

RETRIED_STATUSES = frozenset({429, 503, 504})


class DeltaExpired(StopRun):
    """410 Gone: the delta link's sync state expired; only a full read can go on."""


class NotFound(SourceUnavailable):
    """404 `Request_ResourceNotFound`: the object asked for by id does not exist."""


class Graph:
    """GETs of Graph URLs (a first URL with parameters, or an opaque next/delta link)."""

    def __init__(self, settings: EntraIdSourceSettings) -> None:
        self.settings = settings
        self.tokens = TokenSource(settings)
        self.session = requests.Session()
        self._auth = BearerAuth(self.tokens.token)  # asked at each request: renewed when due
        self.retries = 0

    def close(self) -> None:
        self.session.close()

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        group: str | None = None,
    ) -> dict[str, Any]:
        """The JSON answer; TransientError once the retry budget is spent. `group`: the URL is
        that group's, whose absence is said in words naming it."""
        policy = retrying(
            budget_seconds=self.settings.retry_max_seconds,
            initial_seconds=self.settings.retry_initial_seconds,
            on_retry=self._count,
            what="Microsoft Graph request",
        )
        answer: dict[str, Any] = policy(self._attempt, url, params, headers or {}, group)
        return answer

    def get_one(self, url: str, params: dict[str, str]) -> dict[str, Any] | None:
        """One object by its URL (`/v1.0/users/{id}`), or None when Graph says it does not
        exist; failures as for `get`."""
        try:
            return self.get(url, params)
        except NotFound:
            return None

    def _count(self, failure: BaseException, attempt: int, sleep: float) -> None:
        self.retries += 1

    def _attempt(
        self, url: str, params: dict[str, str] | None, extra: dict[str, str], group: str | None
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", **extra}
        try:
            response = self.session.get(
                url,
                params=params,
                headers=headers,
                auth=self._auth,
                timeout=self.settings.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise network_failure(exc, f"Graph {_path(url)}") from None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                raise TransientError(
                    f"Graph: an answer that is not JSON for {_path(url)}"
                ) from None
            if not isinstance(body, dict):
                raise SourceUnavailable(f"Graph: an answer that is not an object for {_path(url)}")
            return body
        raise self._failure(response, url, group)

    def _failure(self, response: requests.Response, url: str, group: str | None) -> Exception:
        status = response.status_code
        code, message = _error(response)
        detail = f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}"
        where = f"Graph {_path(url)}"
        if group is not None and status in (400, 404):
            # read as "nobody is a member", a missing group would put everyone out of scope
            what = "does not exist" if status == 404 else "is not a group object id"
            return StopRun(
                f"entra_id: group {group} {what} (named in [tenants.scope] or "
                f"[[tenants.roles]]; {detail}); nobody is disabled"
            )
        if status in RETRIED_STATUSES:
            return TransientError(f"{where}: {detail}", retry_after=_retry_after(response))
        if status == 410:
            return DeltaExpired(f"{where}: the delta link expired ({detail})")
        if status == 403:
            return SourceUnavailable(
                f"entra_id: {where} was refused ({detail}): give the app registration "
                f"(client_id {self.settings.client_id}) the Microsoft Graph application "
                "permissions User.Read.All and GroupMember.Read.All, and grant admin consent"
            )
        if status == 401:
            return SourceUnavailable(
                f"entra_id: {where} refused the access token ({detail}); check that tenant_id "
                f"{self.settings.tenant_id} and graph_endpoint {self.settings.graph_endpoint} "
                "belong to the same cloud"
            )
        if status == 400 and self.settings.filter:
            return SourceUnavailable(
                f"entra_id: {where}: {detail}; check filter {self.settings.filter!r} "
                "(an OData $filter Graph accepts on users)"
            )
        if status == 404:
            # NotFound to a caller that asked for one object: there is none; to others, a
            # wrong endpoint
            failure = NotFound if code == "Request_ResourceNotFound" else SourceUnavailable
            return failure(
                f"entra_id: {where}: {detail}; check graph_endpoint {self.settings.graph_endpoint}"
            )
        if status >= 500:
            return TransientError(f"{where}: {detail}")
        return SourceUnavailable(f"entra_id: {where}: {detail}")


def _error(response: requests.Response) -> tuple[str, str]:
    """Graph's `{"error": {"code", "message"}}`, or the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return response.reason or "", ""
    return str(error.get("code") or response.reason or ""), str(error.get("message") or "")


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0  # an HTTP date: Graph sends seconds; back-off alone then


def _path(url: str) -> str:
    """A URL without its query: next/delta links carry opaque tokens worth keeping out of logs."""
    return urlsplit(url).path or url
