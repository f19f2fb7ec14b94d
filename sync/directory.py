"""Reading a tenant's directory completely: the main source, then its lookups (SPEC §2, §5.1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sync.compose.normalize import normalize_email, normalize_text
from sync.errors import UserIssue
from sync.model import DirectoryUser
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.settings import SourceSettings

# attributes a lookup can provide: those held by another system than the tenant's own directory
LOOKUP_ATTRIBUTES = ("google_workspace_email", "salesforce_account")


@dataclass(slots=True)
class DirectoryRead:
    users: dict[str, DirectoryUser] = field(default_factory=dict)
    issues: list[UserIssue] = field(default_factory=list)
    # ids the source returned that cannot be used this run: their accounts are not "gone"
    seen: set[str] = field(default_factory=set)
    users_read: int = 0
    result: ReadResult = field(default_factory=lambda: ReadResult(full=False))


def read_directory(settings: SourceSettings, request: ReadRequest) -> DirectoryRead:
    """All users of one source; raises StopRun when the read cannot be completed."""
    read = DirectoryRead()
    duplicates: set[str] = set()
    for item in drain(open_source(settings).read(request)):
        if isinstance(item, ReadResult):
            read.result = item
            break
        _take_page(read, item, duplicates)
    for source_id in sorted(duplicates):
        read.users.pop(source_id, None)
        read.seen.add(source_id)
        read.issues.append(
            UserIssue(
                source_id, "duplicate_source_id", "the source returned this id more than once"
            )
        )
    return read


def _take_page(read: DirectoryRead, page: Page, duplicates: set[str]) -> None:
    read.users_read += len(page.users) + len(page.issues)
    read.issues.extend(page.issues)
    read.seen.update(issue.source_id for issue in page.issues)
    for user in page.users:
        if user.source_id in read.users:
            duplicates.add(user.source_id)
        else:
            read.users[user.source_id] = user


def lookup_request(provided: Iterable[str], lookup: SourceSettings) -> ReadRequest:
    wanted = {*provided, "primary_email", "emails", "employee_code"}
    extra = {lookup.lookup_field} if lookup.lookup_field else set()
    return ReadRequest(attributes=frozenset(wanted), extra_fields=frozenset(extra))


def join_lookup(
    read: DirectoryRead,
    lookup: SourceSettings,
    lookup_users: Iterable[DirectoryUser],
    provided: tuple[str, ...],
) -> None:
    """Copies the provided attributes from each user's match in the lookup source. A user with
    no match is reported `no_lookup_match` and gets no account; its account stays as it is."""
    match_on = lookup.match_on or "email"
    index = _index(lookup_users, match_on, lookup.lookup_field)
    kind = getattr(lookup, "kind", "lookup")
    for source_id, user in list(read.users.items()):
        match = next((index[k] for k in _keys(user, match_on) if index.get(k)), None)
        if match is None:
            del read.users[source_id]
            read.seen.add(source_id)
            if user.active:
                read.issues.append(UserIssue(source_id, "no_lookup_match", f"{kind} by {match_on}"))
            continue
        read.users[source_id] = replace(user, **{a: getattr(match, a) for a in provided})


def _index(
    users: Iterable[DirectoryUser], match_on: str, lookup_field: str | None
) -> dict[str, DirectoryUser | None]:
    """Lookup users by match key; a key two of them share maps to None (no safe match)."""
    index: dict[str, DirectoryUser | None] = {}
    for user in users:
        if match_on in ("email", "employee_code"):
            keys = _keys(user, match_on)
        else:
            value = user.attribute(lookup_field) if lookup_field else user.source_id
            keys = [value] if value else []
        for key in keys:
            index[key] = None if key in index and index[key] is not user else user
    return index


def _keys(user: DirectoryUser, match_on: str) -> list[str]:
    if match_on == "email":
        return [e.lower() for e in map(normalize_email, user.all_emails()) if e]
    if match_on == "employee_code":
        code = normalize_text(user.employee_code)
        return [code] if code else []
    value = normalize_text(user.attribute(match_on))
    return [value] if value else []
