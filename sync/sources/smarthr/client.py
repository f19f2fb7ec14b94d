"""SmartHR API GET requests: the bearer token, the retry policy, and the one place where SmartHR's
answers become the worker's error vocabulary (STYLE.md 6).

SmartHR answers errors as `{"code", "type", "message", "errors"}` (developer.smarthr.jp/api/
about_api): 429 `too_many_requests` is retried after `x-rate-limit-reset` seconds, 503
`service_maintenance`, other 5xx and dropped connections with back-off, all within
`retry_max_seconds` (sync.retry); 401 `unauthorized_token` and 403 stop the run naming the key that
holds the token (never the token). The error's `type` and `message` are kept in every message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests

from sync.config.secrets import read_secret
from sync.errors import SourceUnavailable, TransientError
from sync.retry import retrying
from sync.sources.bearer import BearerAuth

if TYPE_CHECKING:  # the reader process (sync.sources.smarthr.reader) does without pydantic
    from sync.sources.settings import SmartHrSourceSettings

RETRIED = frozenset({429, 500, 502, 503, 504})
ACCEPT = {"Accept": "application/json"}
T = TypeVar("T")


class NotFound(Exception):
    """SmartHR's 404 `not_found` for one object: there is no such object (never retried)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One page: its crews, the next page's URL, and the server's count of all crews."""

    crews: list[Any]
    next_url: str | None
    total: int | None


@dataclass(frozen=True, slots=True)
class RawPage:
    """One page as it came: its body (a JSON list, not yet decoded), where it came from, the
    next page's URL and the server's count of all crews."""

    body: bytes
    url: str
    next_url: str | None
    total: int | None

    def answer(self) -> Answer:
        """The page decoded: TransientError for a body that is not JSON, SourceUnavailable for
        one that is not a list."""
        crews = _decoded(self.body, self.url)
        if not isinstance(crews, list):
            raise SourceUnavailable(f"smarthr: {_path(self.url)} answered something not a list")
        return Answer(crews, self.next_url, self.total)


@dataclass(frozen=True, slots=True)
class Site:
    """What a client needs of the source's settings, in plain values: the site, the token (read
    once, never shown), the names of the keys a failure points to, the time limits."""

    url: str
    token: str = field(repr=False)
    token_key: str
    site_key: str
    timeout_seconds: float
    retry_initial_seconds: float
    retry_max_seconds: float

    @classmethod
    def of(cls, settings: SmartHrSourceSettings) -> Site:
        token = read_secret(
            f"smarthr source: {settings.token_key()}",
            settings.access_token_env,
            settings.access_token_file,
        )
        assert token is not None  # the settings demand one of the two keys
        if settings.base_url:
            site_key = f"base_url ({settings.base_url})"
        else:
            site_key = f"subdomain ({settings.subdomain})"
        return cls(
            settings.site(),
            token,
            settings.token_key(),
            site_key,
            settings.timeout_seconds,
            settings.retry_initial_seconds,
            settings.retry_max_seconds,
        )


class SmartHrClient:
    def __init__(self, site: Site, session: requests.Session | None = None):
        self.site = site
        self.session = session or requests.Session()
        self.retries = 0
        self._origin = _origin(site.url)
        self._auth = BearerAuth(lambda: site.token)

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, params: dict[str, str] | None = None) -> Answer:
        """One page; TransientError once the retry budget is spent, SourceUnavailable when
        retrying cannot help. Decoded within the attempt: an answer that is not JSON is tried
        again like a dropped connection."""
        answer: Answer = self._retried(self._page, url, params)
        return answer

    def get_raw(self, url: str) -> RawPage:
        """One page as it came, not decoded (the reader process's way: the run decodes it);
        a body that does not even look like a JSON list is tried again."""
        raw: RawPage = self._retried(self._listed, url)
        return raw

    def get_one(self, url: str) -> dict[str, Any] | None:
        """One object (`GET /api/v1/crews/{id}`), or None when SmartHR says it is not found;
        failures as for `get`."""
        found: dict[str, Any] | None = self._retried(self._object, url)
        return found

    def _retried(self, attempt: Callable[..., T], *args: Any) -> T:
        if _origin(args[0]) != self._origin:
            # the token goes only to the configured site, whatever a Link header says
            raise SourceUnavailable(
                f"smarthr: a next-page link points to {_origin(args[0])}, not to {self._origin}"
            )
        policy = retrying(
            budget_seconds=self.site.retry_max_seconds,
            initial_seconds=self.site.retry_initial_seconds,
            on_retry=self._count,
            what="SmartHR request",
        )
        result: T = policy(attempt, *args)
        return result

    def _count(self, failure: BaseException, attempt: int, sleep: float) -> None:
        self.retries += 1

    def _page(self, url: str, params: dict[str, str] | None) -> Answer:
        return self._raw(url, params).answer()

    def _listed(self, url: str) -> RawPage:
        raw = self._raw(url, None)
        body = raw.body.strip()
        if body[:1] != b"[" or body[-1:] != b"]":
            raise TransientError(f"SmartHR {_path(url)}: an answer that is not a JSON list")
        return raw

    def _raw(self, url: str, params: dict[str, str] | None) -> RawPage:
        response = self._response(url, params)
        following = response.links.get("next", {}).get("url")
        return RawPage(response.content, url, following or None, _count_header(response))

    def _object(self, url: str) -> dict[str, Any] | None:
        # SmartHR's own `not_found` error: no such crew (a 404 of another server is the site's)
        try:
            body = _decoded(self._response(url, None).content, url)
        except NotFound:
            return None
        if not isinstance(body, dict):
            raise SourceUnavailable(f"smarthr: {_path(url)} answered something not an object")
        return body

    def _response(self, url: str, params: dict[str, str] | None) -> requests.Response:
        """A 200 answer, or the failure it is (STYLE.md 6)."""
        try:
            response = self.session.get(
                url,
                params=params,
                headers=ACCEPT,
                auth=self._auth,
                timeout=self.site.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise TransientError(f"SmartHR {_path(url)}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise self._failure(response, url)
        return response

    def _failure(self, response: requests.Response, url: str) -> Exception:
        status = response.status_code
        kind, message = _error(response)
        detail = f"HTTP {status} {kind}: {message}" if message else f"HTTP {status} {kind}"
        where = f"SmartHR {_path(url)}"
        if status in RETRIED:
            wait = _seconds(response.headers.get("x-rate-limit-reset")) if status == 429 else 0
            return TransientError(f"{where}: {detail}", retry_after=wait)
        key = self.site.token_key
        if status == 401:
            return SourceUnavailable(
                f"smarthr: {where} refused the access token ({detail}); check {key}"
            )
        if status == 403:
            return SourceUnavailable(
                f"smarthr: {where} was forbidden ({detail}); the token of {key} needs "
                "permission to read crews (従業員) and their departments"
            )
        if status == 404 and kind == "not_found":
            return NotFound(f"{where}: {detail}")
        if status == 404:
            return SourceUnavailable(f"smarthr: {where}: {detail}; check {self.site.site_key}")
        return SourceUnavailable(f"smarthr: {where}: {detail}")


def _decoded(body: bytes, url: str) -> Any:
    """A 200 answer's JSON; TransientError (tried again) for one that is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        raise TransientError(f"SmartHR {_path(url)}: an answer that is not JSON") from None


def _error(response: requests.Response) -> tuple[str, str]:
    """SmartHR's `{"type", "message"}`, or the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "", ""
    if not isinstance(body, dict):
        return response.reason or "", ""
    return str(body.get("type") or response.reason or ""), str(body.get("message") or "")


def _count_header(response: requests.Response) -> int | None:
    try:
        return int(response.headers["x-total-count"])
    except (KeyError, ValueError):
        return None


def _seconds(text: str | None) -> float:
    try:
        return max(0.0, float(text or 0))
    except ValueError:
        return 0.0


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    return urlsplit(url).path or url
