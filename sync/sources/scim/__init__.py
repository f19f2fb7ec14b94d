"""The `scim` source (SPEC §17): the tenant's SCIM directory, what identity providers pushed,
read from the store like any directory. Every read is whole: a user deleted over SCIM is still
there, inactive, so its account is disabled (guards applying) rather than silently kept."""

from __future__ import annotations

from sync.errors import StopRun
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.scim.mapping import to_user
from sync.sources.settings import ScimSourceSettings

PAGE = 1000


class ScimSource:
    kind = "scim"

    def __init__(self, settings: ScimSourceSettings) -> None:
        self.settings = settings

    def read(self, request: ReadRequest) -> SourceRead:
        pushed = request.pushed
        if pushed is None:
            raise StopRun(
                "a scim source reads the tenant's SCIM directory in the store: it can be the "
                "tenant's [tenants.source] only, not a lookup"
            )
        wanted = {g.casefold(): g for g in request.groups}
        _all_pushed(wanted, {g.casefold() for g in pushed.group_names()})
        groups = pushed.memberships() if wanted else {}
        page: list[DirectoryUser] = []
        for user in pushed.users():
            named = (wanted.get(g.casefold()) for g in groups.get(user.id, ()))
            page.append(to_user(user, frozenset(g for g in named if g)))
            if len(page) == PAGE:
                yield Page(tuple(page))
                page = []
        if page:
            yield Page(tuple(page))
        return ReadResult(full=True)


def _all_pushed(wanted: dict[str, str], pushed: set[str]) -> None:
    """A group the scope or roles name that the identity provider has not pushed (or has
    deleted) fails the run naming it, rather than putting everyone out of scope."""
    missing = sorted(name for key, name in wanted.items() if key not in pushed)
    if missing:
        raise StopRun(
            f"group(s) {missing} named in [tenants.scope] / [[tenants.roles]] have not been "
            "pushed over SCIM (no group has that displayName)"
        )
