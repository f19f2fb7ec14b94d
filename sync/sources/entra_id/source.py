"""Entra ID users through Microsoft Graph `/v1.0/users/delta` (SPEC §13).

A full read starts the delta query; each page's `@odata.nextLink` is followed as given, and the
last page's `@odata.deltaLink` is the watermark. A delta read starts at that link and gets the
users changed since, `@removed` entries being deleted users (their accounts are disabled). A 410
on the delta link means Graph no longer holds its sync state: the read restarts in full in the
same run. With `filter`, Graph's delta query cannot filter (it takes only `id eq`), so every read
is a full, filtered `/v1.0/users` listing (advanced query: `ConsistencyLevel: eventual`).

A read of one person (ReadRequest.only) by an object id, without `filter`, is `GET
/v1.0/users/{id}` with the same `$select` (404 `Request_ResourceNotFound`: nobody); scope and
role groups are read as for every read (each group's transitive members), so that person's
groups are the whole read's.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from sync.errors import IncompleteRead, StopRun, TransientError, UserIssue
from sync.model import DirectoryUser, IssueReason
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead, cut_short
from sync.sources.entra_id.fields import FieldPlan, plan_fields, to_user
from sync.sources.entra_id.graph import DeltaExpired, Graph
from sync.sources.entra_id.groups import Membership, read_membership
from sync.sources.settings import EntraIdSourceSettings

log = logging.getLogger(__name__)

PAGE_SIZE = "999"
GUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)  # the largest page Graph serves of users


class EntraIdSource:
    kind = "entra_id"

    def __init__(self, settings: EntraIdSourceSettings) -> None:
        self.settings = settings

    def read(self, request: ReadRequest) -> SourceRead:
        try:
            plan = plan_fields(request, dict(self.settings.attributes))
        except ValueError as exc:
            raise StopRun(f"entra_id source: {exc}") from None
        graph = Graph(self.settings)
        try:
            membership = read_membership(graph, request.groups) if request.groups else None
            # membership changes are not in users/delta: with groups, every read is full, so
            # someone who left a group is seen at once (docs/entra_id.md)
            if self._by_id(request.only, plan):
                assert request.only is not None
                return (yield from self._one(graph, plan, request.only, membership))
            since = None if request.groups else self._usable(request.since)
            if since is not None:
                try:
                    return (yield from self._pages(graph, plan, since, membership))
                except DeltaExpired as exc:
                    log.warning("Entra ID: %s; reading every user instead", exc)
            return (yield from self._pages(graph, plan, None, membership))
        finally:
            graph.close()

    def _by_id(self, only: str | None, plan: FieldPlan) -> bool:
        """Whether `only` is read by `GET /v1.0/users/{id}`: an object id (GUID), where the
        source id is the user's `id` and no `filter` narrows the directory (that user might be
        outside it: the whole, filtered read says)."""
        by_id = plan.paths["source_id"] == (("id",),) and not self.settings.filter
        return by_id and only is not None and GUID.fullmatch(only) is not None

    def _one(
        self, graph: Graph, plan: FieldPlan, user_id: str, membership: Membership | None
    ) -> SourceRead:
        """That user alone with the delta read's fields, or nobody (404); a partial read."""
        url = f"{self.settings.graph_endpoint}/v1.0/users/{user_id}"
        stats = {"pages": 0, "users": 0, "removed": 0}
        try:
            entry = graph.get_one(url, {"$select": plan.select()})
        except TransientError as exc:
            budget = self.settings.retry_max_seconds
            raise cut_short("entra_id", exc, 0, "0 users", budget) from None
        page, _ = self._page({"value": [] if entry is None else [entry]}, plan, stats, membership)
        yield page
        stats["retries"] = graph.retries
        stats |= membership.stats if membership else {}
        return ReadResult(full=False, stats=stats)

    def _usable(self, since: str | None) -> str | None:
        """The stored delta link, unless a filter is set or it belongs to another endpoint."""
        if since is None or self.settings.filter:
            return None
        endpoint = urlsplit(self.settings.graph_endpoint)
        link = urlsplit(since)
        if (link.scheme, link.netloc) != (endpoint.scheme, endpoint.netloc):
            log.warning("Entra ID: the stored delta link is not of graph_endpoint; reading all")
            return None
        return since

    def _first(self, plan: FieldPlan) -> tuple[str, dict[str, str], dict[str, str]]:
        """The first request of a full read: URL, parameters, extra headers."""
        base = f"{self.settings.graph_endpoint}/v1.0/users"
        params = {"$select": plan.select()}
        if not self.settings.filter:
            return f"{base}/delta", params, {}
        params |= {"$filter": self.settings.filter, "$count": "true", "$top": PAGE_SIZE}
        return base, params, {"ConsistencyLevel": "eventual"}

    def _pages(
        self, graph: Graph, plan: FieldPlan, since: str | None, membership: Membership | None
    ) -> SourceRead:
        """One read: a delta from `since`, or everything. A 410 on the first request is
        DeltaExpired (nothing has been handed on yet); later it makes the read incomplete."""
        if since is None:
            url, params, headers = self._first(plan)
        else:
            url, params, headers = since, {}, {}
        seen: set[str] = set()
        stats = {"pages": 0, "users": 0, "removed": 0}
        complete = True
        while True:
            answer = self._get(graph, url, params, headers, stats)
            page, known = self._page(answer, plan, stats, membership)
            complete = complete and known
            yield page
            next_link, delta_link = answer.get("@odata.nextLink"), answer.get("@odata.deltaLink")
            if isinstance(next_link, str) and next_link:
                if next_link in seen:
                    raise IncompleteRead(f"Graph repeated a next link after page {stats['pages']}")
                seen.add(next_link)
                url, params = next_link, {}
                continue
            watermark = delta_link if isinstance(delta_link, str) and delta_link else None
            if watermark is None and not self.settings.filter:
                raise IncompleteRead(
                    f"Graph's users/delta ended after page {stats['pages']} without a delta link"
                )
            stats["retries"] = graph.retries
            stats |= membership.stats if membership else {}
            return ReadResult(full=since is None and complete, watermark=watermark, stats=stats)

    def _get(
        self,
        graph: Graph,
        url: str,
        params: dict[str, str],
        headers: dict[str, str],
        stats: dict[str, int],
    ) -> dict[str, Any]:
        try:
            return graph.get(url, params or None, headers)
        except TransientError as exc:
            read = f"{stats['users']} users"
            budget = self.settings.retry_max_seconds
            raise cut_short("entra_id", exc, stats["pages"], read, budget) from None
        except DeltaExpired as exc:
            if not stats["pages"]:
                raise
            raise IncompleteRead(f"entra_id: {exc} after {stats['pages']} pages") from None

    def _page(
        self,
        answer: dict[str, Any],
        plan: FieldPlan,
        stats: dict[str, int],
        membership: Membership | None,
    ) -> tuple[Page, bool]:
        """The page, and whether every entry on it was understood."""
        entries = answer.get("value")
        stats["pages"] += 1
        if not isinstance(entries, list):
            raise IncompleteRead(f"Graph page {stats['pages']} has no list of users")
        users: list[DirectoryUser] = []
        issues: list[UserIssue] = []
        removed: list[str] = []
        for position, entry in enumerate(entries, start=1):
            where = f"page {stats['pages']} user {position}"
            if not isinstance(entry, dict):
                issues.append(
                    UserIssue(where, IssueReason.MISSING_ATTRIBUTE, "source_id (not an object)")
                )
            elif "@removed" in entry:
                removed += self._removed_id(entry, plan)
            else:
                groups = membership.of(entry.get("id")) if membership else frozenset()
                outcome = to_user(entry, plan, where, groups)
                if isinstance(outcome, DirectoryUser):
                    users.append(outcome)
                else:
                    issues.append(outcome)
        stats["users"] += len(users)
        stats["removed"] += len(removed)
        return Page(tuple(users), tuple(issues), tuple(removed)), not issues

    def _removed_id(self, entry: dict[str, Any], plan: FieldPlan) -> list[str]:
        """A removal names the user by its Graph `id` only: usable when that is the source id."""
        graph_id = entry.get("id")
        if not isinstance(graph_id, str) or not graph_id:
            return []
        if plan.paths["source_id"] != (("id",),):
            log.warning(
                "Entra ID: user %s was deleted, but attributes.source_id is not 'id': its "
                "account is disabled by the next full read",
                graph_id,
            )
            return []
        return [graph_id]
