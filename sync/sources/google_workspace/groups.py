"""Group membership for scope and roles (SPEC §13): `members.list` of each requested group with
`includeDerivedMembership` (the members of nested groups too), paged, before the users are read.

The requested groups are group email addresses (an alias or the group's id works too: Google
takes any of them as the groupKey), compared case-insensitively. A member is matched to a user
by the user's id (what members.list returns for a user), or by the primary address; a member of
type CUSTOMER (the group holds "all users in the organisation") makes everyone a member.
https://developers.google.com/workspace/admin/directory/reference/rest/v1/members/list
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sync.errors import IncompleteRead, SourceUnavailable, TransientError
from sync.sources.google_workspace.client import DirectoryClient


class Membership:
    """Each user's requested groups, spelt as the configuration spells them."""

    def __init__(self) -> None:
        self._by_member: dict[str, set[str]] = {}  # user id or lower-case email -> groups
        # groups that hold the whole organisation (a member of type CUSTOMER): everyone's
        self._everyone: set[str] = set()
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self.stats = {"group_pages": 0, "group_members": 0}

    def add(self, group: str, member: dict[str, Any]) -> None:
        if member.get("type") == "CUSTOMER":
            self._everyone.add(group)
            return
        if member.get("type") != "USER":
            return  # a nested group: derived membership lists its members as well
        for key in (member.get("id"), str(member.get("email") or "").lower()):
            if key:
                self._by_member.setdefault(str(key), set()).add(group)
        self.stats["group_members"] += 1

    def of(self, resource: dict[str, Any]) -> frozenset[str]:
        found: set[str] = set(self._everyone)
        for key in (resource.get("id"), str(resource.get("primaryEmail") or "").lower()):
            if key:
                found |= self._by_member.get(str(key), set())
        groups = frozenset(found)
        return self._shared.setdefault(groups, groups)


def read_membership(client: DirectoryClient, groups: Iterable[str]) -> Membership:
    membership = Membership()
    for group in sorted(groups):
        token: str | None = None
        tokens_seen: set[str] = set()
        while True:
            try:
                response = client.list_members(group, token)
            except TransientError as exc:
                raise SourceUnavailable(
                    f"Google Directory API members.list of group {group}: {exc} (retried for up "
                    f"to {client.settings.retry_max_seconds:g} s)"
                ) from None
            membership.stats["group_pages"] += 1
            for member in response.get("members", []):
                membership.add(group, member)
            token = response.get("nextPageToken")
            if not token:
                break
            if token in tokens_seen:
                raise IncompleteRead(f"members.list of group {group} repeated a page token")
            tokens_seen.add(token)
    return membership
