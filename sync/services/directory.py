"""Reading a tenant's directory (SPEC §2, §5.1): lookups first, then the main source streamed
page by page into the planner."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy import Engine

from sync.compose.normalize import normalize_email, normalize_text
from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason
from sync.ops import progress
from sync.planning.plan import Planner
from sync.sources import open_source
from sync.sources.base import DirectorySource, EarlyStart, Page, ReadRequest, ReadResult, drain
from sync.sources.settings import SourceSettings
from sync.store.accounts import count_active

# attributes a lookup can provide: those held by another system than the tenant's own directory
LOOKUP_ATTRIBUTES = ("google_workspace_email", "salesforce_account")


@dataclass(frozen=True, slots=True)
class ReadSummary:
    result: ReadResult
    users_read: int


class LookupIndex:
    """A lookup source's users by match key (SPEC §2). A key two of them share matches nobody."""

    def __init__(
        self, lookup: SourceSettings, users: Iterable[DirectoryUser], provided: tuple[str, ...]
    ) -> None:
        self.match_on = lookup.match_on or "email"
        self.kind = lookup.kind
        self.provided = provided
        self.index: dict[str, DirectoryUser | None] = {}
        for user in users:
            for key in self._lookup_keys(user, lookup.lookup_field):
                known = self.index.get(key, user)
                self.index[key] = user if known is user else None

    def enrich(self, user: DirectoryUser) -> DirectoryUser | UserIssue:
        """The user with the provided attributes copied from its match, or the issue."""
        keys = _keys(user, self.match_on)
        match = next((found for k in keys if (found := self.index.get(k)) is not None), None)
        if match is None:
            return UserIssue(
                user.source_id,
                IssueReason.NO_LOOKUP_MATCH,
                f"{self.kind} by {self.match_on}",
                user.person(),
            )
        return replace(user, **{a: getattr(match, a) for a in self.provided})

    def _lookup_keys(self, user: DirectoryUser, lookup_field: str | None) -> list[str]:
        if self.match_on in ("email", "employee_code"):
            return _keys(user, self.match_on)
        value = user.attribute(lookup_field) if lookup_field else user.source_id
        return [value] if value else []


def read_lookup(lookup: SourceSettings, provided: tuple[str, ...]) -> LookupIndex:
    """Reads a lookup source completely; a lookup that cannot be read stops the run."""
    wanted = {*provided, "primary_email", "emails", "employee_code"}
    extra = {lookup.lookup_field} if lookup.lookup_field else set()
    request = ReadRequest(frozenset(wanted), frozenset(extra), required=frozenset(provided))
    users = [
        u
        for item in drain(open_source(lookup).read(request))
        if isinstance(item, Page)
        for u in item.users
    ]
    return LookupIndex(lookup, users, provided)


@contextmanager
def prepared(
    source: DirectorySource, engine: Engine, tenant_id: str, whole: bool
) -> Iterator[DirectorySource]:
    """The source, given the chance to begin a read of everyone (`whole`) now (EarlyStart:
    before the run loads the stored accounts, with their count) and closed when the run ends."""
    if not (whole and isinstance(source, EarlyStart)):
        yield source
        return
    try:
        with engine.connect() as conn:
            source.prepare(count_active(conn, tenant_id))
        yield source
    finally:
        source.close()


def feed(
    source: DirectorySource, request: ReadRequest, planner: Planner, lookups: list[LookupIndex]
) -> ReadSummary:
    """Streams the main source into the planner; raises StopRun when the read is incomplete."""
    users_read = 0
    with progress.bar(f"reading {source.kind}") as advance:
        for item in drain(source.read(request)):
            if isinstance(item, ReadResult):
                if request.only is not None:  # one person's read says nothing of the others
                    item = ReadResult(full=False, stats=item.stats)
                return ReadSummary(item, users_read)
            if item.restart:  # the source reads again: what it gave so far is void
                planner.restart()
                users_read = 0
                continue
            if request.only is not None:
                item = one_person(item, request.only)
            users_read += len(item.users) + len(item.issues)
            for issue in item.issues:
                planner.set_aside(issue)
            for user in item.users:
                _give(planner, user, lookups)
            for source_id in item.removed:
                planner.remove(source_id)
            advance(len(item.users) + len(item.issues))
    raise AssertionError("a source's read ended without its ReadResult")


def one_person(page: Page, key: str) -> Page:
    """The page's entries for the person `key` names (ReadRequest.only): by source id, or by
    DN. A source that read that entry alone gives it as it is; the others are filtered here."""
    folded = key.casefold()

    def located(pairs: tuple[tuple[str, str], ...]) -> bool:
        return any(label == "dn" and value.casefold() == folded for label, value in pairs)

    return Page(
        tuple(u for u in page.users if u.source_id == key or located(u.locator)),
        tuple(i for i in page.issues if i.source_id == key or located(i.person)),
        tuple(r for r in page.removed if r == key),
    )


def find_users(
    source: SourceSettings, attributes: frozenset[str], typed: str
) -> list[DirectoryUser]:
    """The directory's users `typed` (NFKC already) names: the one entry it names where the
    source can read it alone (by id or DN), else every user read and those kept whose id,
    address, employee code or DN is `typed`, without regard to case (SPEC §18)."""
    key = typed.casefold()
    for only in (typed, None):
        request = ReadRequest(attributes, only=only)
        found = [
            user
            for item in drain(open_source(source).read(request))
            if isinstance(item, Page)
            for user in item.users
            if _known_as(user, key)
        ]
        if found:
            return found
    return []


def _known_as(user: DirectoryUser, key: str) -> bool:
    if user.source_id.casefold() == key:
        return True
    if any(value.casefold() == key for label, value in user.locator if label == "dn"):
        return True
    if key in _keys(user, "email"):
        return True
    code = normalize_text(user.employee_code)
    return code is not None and code.casefold() == key


def _give(planner: Planner, user: DirectoryUser, lookups: list[LookupIndex]) -> None:
    for lookup in lookups:
        enriched = lookup.enrich(user)
        if isinstance(enriched, UserIssue):
            # no account for an unmatched user, and an existing one is left as it is
            if user.active:
                planner.set_aside(enriched)
            else:
                planner.set_aside_quietly(user.source_id)
            return
        user = enriched
    planner.add(user)


def _keys(user: DirectoryUser, match_on: str) -> list[str]:
    if match_on == "email":
        return [e.lower() for e in map(normalize_email, user.all_emails()) if e]
    if match_on == "employee_code":
        code = normalize_text(user.employee_code)
        return [code] if code else []
    value = normalize_text(user.attribute(match_on))
    return [value] if value else []
