"""Group membership for scope and roles (SPEC §13): each requested group's users, nested groups
included, through Graph's `/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$select=id`
(an advanced query: `$count=true`, `ConsistencyLevel: eventual`), following `@odata.nextLink`,
before the users are read. The requested groups are group object ids (GUIDs; compared
case-insensitively, spelt as configured). Needs GroupMember.Read.All.
https://learn.microsoft.com/graph/api/group-list-transitivemembers
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.errors import IncompleteRead, SourceUnavailable, TransientError
from sync.sources.entra_id.graph import Graph

PAGE_SIZE = "999"  # the largest page Graph serves of a group's members
# an OData cast on a transitive members list is an advanced query: Graph wants `$count=true` and
# this header (on every page) https://learn.microsoft.com/graph/aad-advanced-queries
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}


class Membership:
    """Each user's requested groups, by the user's object id."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[str]] = {}
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self.stats = {"group_pages": 0, "group_members": 0}

    def add(self, group: str, user_id: str) -> None:
        self._by_user.setdefault(user_id.lower(), set()).add(group)
        self.stats["group_members"] += 1

    def of(self, user_id: object) -> frozenset[str]:
        if not isinstance(user_id, str):
            return frozenset()
        groups = frozenset(self._by_user.get(user_id.lower(), ()))
        return self._shared.setdefault(groups, groups)


def read_membership(graph: Graph, groups: Iterable[str]) -> Membership:
    membership = Membership()
    endpoint = graph.settings.graph_endpoint
    for group in sorted(groups):
        url: str = f"{endpoint}/v1.0/groups/{group}/transitiveMembers/microsoft.graph.user"
        params: dict[str, str] = {"$select": "id", "$top": PAGE_SIZE, "$count": "true"}
        seen: set[str] = set()
        while True:
            try:
                answer = graph.get(url, params, ADVANCED_QUERY, group=group)
            except TransientError as exc:
                raise SourceUnavailable(
                    f"entra_id: the members of group {group}: {exc} (retried for up to "
                    f"{graph.settings.retry_max_seconds:g} s)"
                ) from None
            membership.stats["group_pages"] += 1
            entries = answer.get("value")
            if not isinstance(entries, list):
                raise IncompleteRead(f"Graph: the members of group {group} are not a list")
            for entry in entries:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    membership.add(group, entry["id"])
            next_link = answer.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                break
            if next_link in seen:
                raise IncompleteRead(f"Graph repeated a next link of group {group}'s members")
            seen.add(next_link)
            url, params = next_link, {}
    return membership
