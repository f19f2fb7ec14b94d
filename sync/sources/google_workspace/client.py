"""The Directory API client: the service-account key, the transport, retries, and the one place
where Google's exceptions become the worker's error vocabulary (STYLE.md 6).

Transport is httplib2 through google-auth-httplib2, the pair google-api-python-client is built
on; it refreshes the access token once on a 401 by itself. The library's own retries are off
(`num_retries=0`) so that the worker's retry policy (sync.retry) alone decides, within
`retry_max_seconds` per request.
"""

from __future__ import annotations

import json
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_errors
from google.oauth2 import service_account
from googleapiclient import errors as api_errors
from googleapiclient.discovery import build

from sync.config.secrets import read_secret
from sync.errors import SourceUnavailable, StopRun, TransientError
from sync.retry import retrying
from sync.sources.settings import GoogleWorkspaceSourceSettings

SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"
# members.list, asked for only when the tenant's scope or roles name groups
GROUP_SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
# Retry these: https://developers.google.com/workspace/admin/directory/v1/limits
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
KEY_FIELDS = ("client_email", "private_key", "token_uri")
MEMBERS_PAGE_SIZE = 200  # the largest maxResults members.list accepts
LONGEST_WAIT_SECONDS = 64  # Google's recommended cap for one back-off step


class NoSuchUser(Exception):
    """users.get answered 404: there is no user by that key (never retried)."""


class DirectoryClient:
    """`users.list` (and `members.list` with `groups`) for one read. Building it reads the key,
    so a bad key stops the run here."""

    def __init__(self, settings: GoogleWorkspaceSourceSettings, *, groups: bool = False) -> None:
        self.settings = settings
        self.retries = 0
        self.scopes = [SCOPE, GROUP_SCOPE] if groups else [SCOPE]
        credentials = _credentials(settings, self.scopes)
        self.account = f"service account {credentials.service_account_email}"
        if settings.subject:
            self.account += f" acting as {settings.subject}"
        self._http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=settings.timeout_seconds)
        )
        endpoint = settings.api_endpoint
        # The discovery document's method path is relative: without the slash a path prefix of
        # the endpoint would be dropped by urljoin.
        options = {"api_endpoint": endpoint.rstrip("/") + "/"} if endpoint else None
        service = build(
            "admin",
            "directory_v1",
            http=self._http,
            static_discovery=True,
            cache_discovery=False,
            client_options=options,
        )
        self._users = service.users()
        self._members = service.members()
        self._retrying = retrying(
            budget_seconds=settings.retry_max_seconds,
            initial_seconds=settings.retry_initial_seconds,
            longest_seconds=LONGEST_WAIT_SECONDS,
            on_retry=self._note_retry,
            what="Google Directory API users.list",
        )

    def list_users(self, params: dict[str, Any]) -> dict[str, Any]:
        """One page of `users.list`; TransientError once the retry time is spent."""
        request = self._users.list(**params)
        response: dict[str, Any] = self._retrying(self._execute, request)
        return response

    def get_user(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """`users.get` (`userKey` in `params`), or None when Google says there is no such user;
        TransientError once the retry time is spent."""
        request = self._users.get(**params)
        try:
            response: dict[str, Any] = self._retrying(self._execute, request, None, True)
        except NoSuchUser:
            return None
        return response

    def list_members(self, group: str, token: str | None) -> dict[str, Any]:
        """One page of a group's members, nested groups' members included (derived)."""
        params: dict[str, Any] = {
            "groupKey": group,
            "includeDerivedMembership": True,
            "maxResults": MEMBERS_PAGE_SIZE,
            "fields": "nextPageToken,members(id,email,type)",
        }
        request = self._members.list(**params, **({"pageToken": token} if token else {}))
        response: dict[str, Any] = self._retrying(self._execute, request, group)
        return response

    def close(self) -> None:
        self._http.close()

    def _execute(self, request: Any, group: str | None = None, one: bool = False) -> dict[str, Any]:
        try:
            response: dict[str, Any] = request.execute(num_retries=0)
        except api_errors.HttpError as exc:
            if one and exc.resp.status == 404:  # users.get: nobody by that key
                raise NoSuchUser() from None
            if group is not None:
                raise self._group_error(exc, group) from None
            raise self._http_error(exc) from None
        except auth_errors.RefreshError as exc:
            raise self._refresh_error(exc) from None
        except (auth_errors.TransportError, httplib2.HttpLib2Error, OSError) as exc:
            raise TransientError(f"cannot reach Google: {type(exc).__name__}: {exc}") from None
        except auth_errors.GoogleAuthError as exc:
            raise SourceUnavailable(f"Google sign-in failed for the {self.account}: {exc}") from exc
        return response

    def _http_error(self, exc: api_errors.HttpError) -> StopRun | TransientError:
        status = exc.resp.status
        reason, message = _error_details(exc.content)
        said = " ".join(filter(None, [f"HTTP {status}", reason])) + (f": {message}" * bool(message))
        if status in TRANSIENT_STATUSES or (status == 403 and reason in RATE_LIMIT_REASONS):
            return TransientError(said, retry_after=_retry_after(exc.resp))
        if status == 401:
            return SourceUnavailable(
                f"the Directory API refused a fresh access token for the {self.account} ({said})"
            )
        if status == 403:
            return SourceUnavailable(
                f"the Directory API refused the {self.account} ({said}): the subject must be "
                "an administrator allowed to read users, the service account's client id must "
                f"have domain-wide delegation for {SCOPE}, and the customer or domain must be "
                "this administrator's own"
            )
        settings = self.settings
        asked = [f"domain {settings.domain!r}"] if settings.domain else []
        asked = asked or [f"customer {settings.customer or 'my_customer'!r}"]
        asked += [f"query {settings.query!r}"] if settings.query else []
        return StopRun(
            f"the Directory API refused users.list ({said}); check the source's "
            + " and ".join(asked)
        )

    def _group_error(self, exc: api_errors.HttpError, group: str) -> StopRun | TransientError:
        """members.list's refusals: a group that does not exist names the group (read as
        "nobody is a member", it would put everyone out of scope)."""
        status = exc.resp.status
        reason, message = _error_details(exc.content)
        said = " ".join(filter(None, [f"HTTP {status}", reason])) + (f": {message}" * bool(message))
        if status == 404:
            return StopRun(
                f"Google group {group} does not exist (named in [tenants.scope] or "
                f"[[tenants.roles]]; {said}); nobody is disabled"
            )
        if status == 403 and reason not in RATE_LIMIT_REASONS:
            return SourceUnavailable(
                f"the Directory API refused members.list of group {group} for the {self.account} "
                f"({said}): the service account's client id must have domain-wide delegation "
                f"for {GROUP_SCOPE} as well as {SCOPE}"
            )
        error = self._http_error(exc)
        if isinstance(error, TransientError):
            return error
        return StopRun(f"the Directory API refused members.list of group {group} ({said})")

    def _refresh_error(self, exc: auth_errors.RefreshError) -> StopRun | TransientError:
        detail = str(exc.args[0] if exc.args else type(exc).__name__).rstrip(".")
        if getattr(exc, "retryable", False):
            return TransientError(f"the token endpoint failed: {detail}")
        return SourceUnavailable(
            f"the token endpoint refused the {self.account}: {detail}. Check that the key is "
            "current and that the service account's client id has domain-wide delegation for "
            f"{SCOPE} in the Admin console"
        )

    def _note_retry(self, failure: BaseException, attempt: int, sleep: float) -> None:
        self.retries += 1


def _credentials(
    settings: GoogleWorkspaceSourceSettings, scopes: list[str]
) -> service_account.Credentials:
    where = (
        f"credentials_env {settings.credentials_env}"
        if settings.credentials_env
        else f"credentials_file {settings.credentials_file}"
    )
    text = read_secret(
        "Google Workspace service-account key", settings.credentials_env, settings.credentials_file
    )
    try:
        info = json.loads(text or "")
    except json.JSONDecodeError as exc:  # the message names the place, never the content
        raise SourceUnavailable(
            f"{where} is not a JSON key: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else type(info).__name__
        raise SourceUnavailable(
            f"{where} is not a service-account key (type {kind!r}); create a JSON key for "
            "a service account with domain-wide delegation"
        )
    missing = [name for name in KEY_FIELDS if not isinstance(info.get(name), str)]
    if missing:
        raise SourceUnavailable(f"{where}: the key has no {', '.join(missing)}")
    try:
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=scopes, subject=settings.subject
            )
        )
    except (ValueError, TypeError, IndexError):  # the parser's text could quote the key
        raise SourceUnavailable(
            f"{where}: private_key is not a PEM-encoded RSA private key"
        ) from None
    return credentials


def _error_details(content: bytes) -> tuple[str, str]:
    """(reason, message) of Google's JSON error body; ("", "") when it is not one."""
    try:
        error = json.loads(content)["error"]
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason", "")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", ""


def _retry_after(response: Any) -> float:
    try:
        return max(0.0, float(response.get("retry-after", 0)))
    except (TypeError, ValueError):
        return 0.0  # an HTTP date: the exponential back-off will do
