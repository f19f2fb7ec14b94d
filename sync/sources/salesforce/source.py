"""Salesforce `User` records as the directory (`kind = "salesforce"`).

A read is one SOQL query followed through `nextRecordsUrl` to its end. Each request is retried
with back-off when the failure is transient; an expired session is signed in again once and the
read resumes at the page it was on. Any other failure stops the read, so nobody is disabled.
A read of one person (ReadRequest.only) by a record Id is the same query with `AND Id = '…'`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from simple_salesforce.api import Salesforce

from sync.errors import IncompleteRead, SourceUnavailable, TransientError, UserIssue
from sync.model import DirectoryUser
from sync.retry import retrying
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.salesforce.auth import Authenticator, http_session
from sync.sources.salesforce.faults import SessionExpired, translate
from sync.sources.salesforce.groups import read_membership
from sync.sources.salesforce.soql import UserQuery, parse_stamp
from sync.sources.settings import SalesforceSourceSettings

log = logging.getLogger(__name__)

Call = Callable[[Salesforce], Any]


class SalesforceSource:
    kind = "salesforce"

    def __init__(self, settings: SalesforceSourceSettings) -> None:
        self.settings = settings
        self._client: Salesforce | None = None
        self._auth: Authenticator | None = None
        self.stats: dict[str, int] = {}

    def read(self, request: ReadRequest) -> SourceRead:
        self.stats = {"pages": 0, "records": 0, "sign_ins": 0, "retries": 0}
        query = UserQuery.for_request(self.settings, request)
        membership = read_membership(self._query_all, request.groups) if request.groups else None
        # one person (ReadRequest.only) by Id: the same query for that record alone, a partial
        # read whatever its stamp
        one = query.one_id(request.only)
        # membership changes do not touch the User (its SystemModstamp stays): with groups,
        # every read is full, so someone who left a group is seen at once (docs/salesforce.md)
        since = None if request.groups or one else parse_stamp(request.since)
        if request.since is not None and since is None and not (request.groups or one):
            log.warning(
                "Salesforce: watermark %r is not a timestamp; reading everything", request.since
            )
        soql = query.soql(self.settings.where, since, one)
        timeout = self.settings.timeout_seconds
        answer = self._call(lambda sf: sf.query(soql, timeout=timeout), "query")
        total = int(answer.get("totalSize", 0))
        newest = since
        watermark = request.since if since is not None else None
        while True:
            records = answer.get("records", [])
            users: list[DirectoryUser] = []
            issues: list[UserIssue] = []
            for record in records:
                groups = membership.of(record.get("Id")) if membership else frozenset()
                outcome = query.to_user(record, groups)
                if isinstance(outcome, DirectoryUser):
                    users.append(outcome)
                else:
                    issues.append(outcome)
                stamp = parse_stamp(record.get(query.stamp_field))
                if stamp is not None and (newest is None or stamp > newest):
                    newest, watermark = stamp, record[query.stamp_field]
            self.stats["pages"] += 1
            self.stats["records"] += len(records)
            yield Page(tuple(users), tuple(issues))
            if answer.get("done", True):
                break
            answer = self._next_page(answer.get("nextRecordsUrl"), total)
        if self.stats["records"] < total:
            raise IncompleteRead(
                f"Salesforce returned {self.stats['records']} of the {total} users it counted"
            )
        stats = dict(self.stats) | (membership.stats if membership else {})
        if one is not None:  # nobody else was read: nobody is gone, no watermark moves
            return ReadResult(full=False, stats=stats)
        return ReadResult(full=since is None, watermark=watermark, stats=stats)

    def _query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a (small) query, through its pages: group membership."""
        timeout = self.settings.timeout_seconds
        answer = self._call(lambda sf: sf.query(soql, timeout=timeout), "group query")
        records: list[dict[str, Any]] = list(answer.get("records", []))
        while not answer.get("done", True):
            url = answer.get("nextRecordsUrl")
            if not isinstance(url, str) or not url.startswith("/"):
                raise IncompleteRead("Salesforce stopped a group query without a next page")
            answer = self._call(self._more(url), "group query's next page")
            records += answer.get("records", [])
        if len(records) < int(answer.get("totalSize", 0)):
            raise IncompleteRead("Salesforce returned fewer group members than it counted")
        return records

    def _next_page(self, url: object, total: int) -> Any:
        read = self.stats["records"]
        if not isinstance(url, str) or not url.startswith("/"):
            raise IncompleteRead(f"Salesforce stopped after {read} of {total} users: no next page")
        timeout = self.settings.timeout_seconds
        try:
            return self._call(
                lambda sf: sf.query_more(url, identifier_is_url=True, timeout=timeout), "next page"
            )
        except (SourceUnavailable, TransientError) as exc:
            raise IncompleteRead(
                f"Salesforce read stopped after {read} of {total} users: {exc}"
            ) from exc

    def _more(self, url: str) -> Call:
        timeout = self.settings.timeout_seconds
        return lambda sf: sf.query_more(url, identifier_is_url=True, timeout=timeout)

    def _call(self, call: Call, what: str) -> Any:
        """One request: retried while transient, signed in again once if the session expired."""
        try:
            return self._retrying(call, what)
        except SessionExpired:
            log.info("Salesforce session expired during the %s; signing in again", what)
            self._client = None
        try:
            return self._retrying(call, what)
        except SessionExpired as exc:
            raise SourceUnavailable(
                f"Salesforce rejected a session it had just issued ({exc}) during the {what}"
            ) from None

    def _retrying(self, call: Call, what: str) -> Any:
        bound = self.settings.retry_max_seconds
        policy = retrying(
            budget_seconds=bound,
            initial_seconds=min(1.0, bound / 30),
            longest_seconds=min(60.0, bound / 2),
            on_retry=self._count_retry,
            what=f"Salesforce {what}",
        )
        try:
            return policy(self._attempt, call, what)
        except TransientError as exc:
            raise SourceUnavailable(f"{exc} (gave up after retrying for {bound:g} s)") from exc

    def _attempt(self, call: Call, what: str) -> Any:
        client = self._signed_in()
        try:
            return call(client)
        except Exception as exc:
            raise translate(exc, what) from exc

    def _signed_in(self) -> Salesforce:
        if self._client is None:
            if self._auth is None:
                self._auth = Authenticator(self.settings, http_session(self.settings))
            session = self._auth.session
            login = self._auth.login()
            self.stats["sign_ins"] = self.stats.get("sign_ins", 0) + 1
            self._client = Salesforce(
                instance_url=login.instance_url,
                session_id=login.access_token,
                session=session,
                version=self.settings.api_version,
            )
        return self._client

    def _count_retry(self, failure: BaseException, attempt: int, sleep: float) -> None:
        self.stats["retries"] = self.stats.get("retries", 0) + 1
