"""The Google Workspace directory source: a full, paged `users.list` on every read.

The Admin SDK has no reliable "modified since" filter for users, so there are no delta reads
(no `full_sync_interval_hours`): every read is full, and only a read that reached the last page
lets absent users be disabled. https://developers.google.com/workspace/admin/directory/v1/guides/manage-users#get_all_users
"""

from __future__ import annotations

from typing import Any

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, TransientError, UserIssue
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.google_workspace.client import DirectoryClient
from sync.sources.google_workspace.fields import FieldPlan, plan_fields, to_user
from sync.sources.settings import GoogleWorkspaceSourceSettings

PAGE_SIZE = 500  # the largest maxResults users.list accepts


class GoogleWorkspaceSource:
    kind = "google_workspace"

    def __init__(self, settings: GoogleWorkspaceSourceSettings) -> None:
        self.settings = settings

    def read(self, request: ReadRequest) -> SourceRead:
        try:
            plan = plan_fields(request, dict(self.settings.attributes))
        except ValueError as exc:
            raise StopRun(f"google_workspace source: {exc}") from None
        client = DirectoryClient(self.settings)
        try:
            return (yield from self._pages(client, plan))
        finally:
            client.close()

    def list_params(self, plan: FieldPlan) -> dict[str, Any]:
        """The `users.list` parameters of every page but its token."""
        settings = self.settings
        scope = {"domain": settings.domain} if settings.domain else {}
        params: dict[str, Any] = scope or {"customer": settings.customer or "my_customer"}
        params |= {"maxResults": PAGE_SIZE, "fields": plan.selector(), **plan.projection()}
        if settings.query:
            params["query"] = settings.query
        return params

    def _pages(self, client: DirectoryClient, plan: FieldPlan) -> SourceRead:
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
                outcome = to_user(resource, plan, f"page {pages} user {position}")
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
