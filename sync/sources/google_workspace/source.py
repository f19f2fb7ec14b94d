"""The Google Workspace directory source: a full, paged `users.list` on every read (and, when
the tenant names groups, their derived membership first: sync.sources.google_workspace.groups).

The Admin SDK has no reliable "modified since" filter for users, so there are no delta reads
(no `full_sync_interval_hours`): every read is full, and only a read that reached the last page
lets absent users be disabled. https://developers.google.com/workspace/admin/directory/v1/guides/manage-users#get_all_users

A read of one person (ReadRequest.only) by a Google user id, when neither `domain` nor `query`
narrows the listing, is one `users.get` with the listing's fields and projection (404: nobody).
"""

from __future__ import annotations

import re
from typing import Any

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, TransientError, UserIssue
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.google_workspace.client import DirectoryClient
from sync.sources.google_workspace.fields import FieldPlan, plan_fields, to_user
from sync.sources.google_workspace.groups import Membership, read_membership
from sync.sources.settings import GoogleWorkspaceSourceSettings

PAGE_SIZE = 500  # the largest maxResults users.list accepts
USER_ID = re.compile(r"[0-9]{1,30}")  # Google's user ids are long decimal numbers


class GoogleWorkspaceSource:
    kind = "google_workspace"

    def __init__(self, settings: GoogleWorkspaceSourceSettings) -> None:
        self.settings = settings

    def read(self, request: ReadRequest) -> SourceRead:
        try:
            plan = plan_fields(request, dict(self.settings.attributes))
        except ValueError as exc:
            raise StopRun(f"google_workspace source: {exc}") from None
        client = DirectoryClient(self.settings, groups=bool(request.groups))
        try:
            membership = read_membership(client, request.groups) if request.groups else None
            if self._by_id(request.only):
                assert request.only is not None
                return (yield from self._one(client, plan, request.only, membership))
            return (yield from self._pages(client, plan, membership))
        finally:
            client.close()

    def _by_id(self, only: str | None) -> bool:
        """Whether `only` is read by `users.get`: a Google user id (digits), where no `domain` or
        `query` narrows the listing (users.get would find someone outside it)."""
        settings = self.settings
        return bool(only and USER_ID.fullmatch(only)) and not (settings.domain or settings.query)

    def _one(
        self, client: DirectoryClient, plan: FieldPlan, user_id: str, membership: Membership | None
    ) -> SourceRead:
        """`users.get` with the listing's fields and projection: that user, or nobody (404). A
        partial read: nobody is gone for being absent from it."""
        params = {"userKey": user_id, "fields": plan.user_fields(), **plan.projection()}
        try:
            resource = client.get_user(params)
        except TransientError as exc:
            spent = f"retried for up to {self.settings.retry_max_seconds:g} s"
            raise SourceUnavailable(f"Google Directory API users.get: {exc} ({spent})") from None
        page = Page()
        if resource is not None:
            groups = membership.of(resource) if membership else frozenset()
            outcome = to_user(resource, plan, "user", groups)
            if isinstance(outcome, DirectoryUser):
                page = Page(users=(outcome,))
            else:
                page = Page(issues=(outcome,))
        yield page
        stats = {"users_read": len(page.users), "pages": 1, "retries": client.retries}
        stats |= membership.stats if membership else {}
        return ReadResult(full=False, watermark=None, stats=stats)

    def list_params(self, plan: FieldPlan) -> dict[str, Any]:
        """The `users.list` parameters of every page but its token."""
        settings = self.settings
        scope = {"domain": settings.domain} if settings.domain else {}
        params: dict[str, Any] = scope or {"customer": settings.customer or "my_customer"}
        params |= {"maxResults": PAGE_SIZE, "fields": plan.selector(), **plan.projection()}
        if settings.query:
            params["query"] = settings.query
        return params

    def _pages(
        self, client: DirectoryClient, plan: FieldPlan, membership: Membership | None
    ) -> SourceRead:
        params = self.list_params(plan)
        users_read = pages = 0
        every_user_known = True
        tokens_seen: set[str] = set()
        token: str | None = None
        while True:
            response = self._page(client, params, token, users_read, pages)
            pages += 1
            resources = response.get("users", [])  # absent when the listing is empty
            if not isinstance(resources, list):
                raise IncompleteRead(f"Directory API page {pages} has no list of users")
            users: list[DirectoryUser] = []
            issues: list[UserIssue] = []
            for position, resource in enumerate(resources, start=1):
                groups = membership.of(resource) if membership else frozenset()
                outcome = to_user(resource, plan, f"page {pages} user {position}", groups)
                if isinstance(outcome, DirectoryUser):
                    users.append(outcome)
                else:
                    issues.append(outcome)
                    every_user_known = False  # someone unknown: absence proves nothing
            users_read += len(users)
            yield Page(tuple(users), tuple(issues))
            token = response.get("nextPageToken")
            if not token:
                break
            if token in tokens_seen:
                raise IncompleteRead(f"Directory API repeated a page token after page {pages}")
            tokens_seen.add(token)
        stats = {"users_read": users_read, "pages": pages, "retries": client.retries}
        stats |= membership.stats if membership else {}
        return ReadResult(full=every_user_known, watermark=None, stats=stats)

    def _page(
        self,
        client: DirectoryClient,
        params: dict[str, Any],
        token: str | None,
        users_read: int,
        pages: int,
    ) -> dict[str, Any]:
        try:
            return client.list_users({**params, "pageToken": token} if token else params)
        except TransientError as exc:
            spent = f"retried for up to {self.settings.retry_max_seconds:g} s"
            if not pages:
                raise SourceUnavailable(
                    f"Google Directory API users.list: {exc} ({spent})"
                ) from None
            raise IncompleteRead(
                f"Google Directory API users.list stopped after {users_read} users "
                f"({pages} page{'s' * (pages != 1)}): {exc} ({spent})"
            ) from None
