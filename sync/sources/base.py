"""The one contract every directory source keeps (STYLE.md 1).

A source's `read` is a generator: it yields `Page`s of normalised users as it receives them, and
returns a `ReadResult` when the read is over. A read that cannot be completed raises `StopRun`
(usually `IncompleteRead`): the caller then disables nobody. Nothing past a source sees a
vendor type.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Protocol, runtime_checkable

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, UserIssue
from sync.model import DirectoryUser
from sync.model.pushed import PushedDirectory


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What the run wants from the source.

    `attributes` are directory attribute names (sync.model.DIRECTORY_ATTRIBUTES) the tenant needs;
    a source may return more but should ask its server only for these. `extra_fields` are raw
    system fields to copy into `DirectoryUser.extra`. `since` is the watermark of the last read
    for a delta read, or None for a full read. `required` are the attributes no account name can
    be composed without: a source whose schema cannot hold one (a CSV without that column) says
    so at once rather than reporting every user.

    `groups` are the group identifiers the tenant's scope and roles name (an LDAP DN, a Google
    group's email, an Entra group id, a name in a CSV `groups` column): the source sets each
    user's `groups` to those of them the user belongs to, nested membership included, spelt as
    requested. Empty: the source reads no membership at all.

    `known_users` is how many accounts the store holds for the tenant: a hint of the read's size,
    for a source that reads small directories another way than large ones (LDAP).

    `only` asks for one person (SPEC §18 `explain`, `sync --only`): a source id, or a DN where
    the source has DNs. A source that can read that entry alone does (LDAP by a filter on the
    id or DN attribute; Entra ID, Google, Salesforce and SmartHR by the id in their API); for a
    key that cannot be such an id, and for CSV, the read is as usual and the caller keeps that
    person (sync.services.directory.feed). Either way the read is partial: nobody is gone for
    being absent (ONE_ENTRY_READS in sync.sources, docs/explain.md).

    `pushed` is for the one source whose directory lives in the store (`scim`, what identity
    providers pushed): the tenant's SCIM directory, handed in by the run. Others ignore it.

    `restartable`: the caller drops everything it was given when a `Page` says `restart` (the
    run's planner starts again). A source that may throw a pass away and read again (SmartHR,
    when the count does not add up) then gives its pages as they come rather than holding a
    whole pass first. Without it such a source holds each pass until it knows it whole.
    """

    attributes: frozenset[str]
    extra_fields: frozenset[str] = frozenset()
    since: str | None = None
    required: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    known_users: int = 0
    only: str | None = None
    pushed: PushedDirectory | None = None
    restartable: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """Part of a read. `removed` are source ids the directory says were deleted (a delta read's
    removals): their accounts are disabled like those of users gone from a full read. `restart`
    (only to a ReadRequest that is `restartable`): every page before this one is void, the read
    starts again."""

    users: tuple[DirectoryUser, ...] = ()
    issues: tuple[UserIssue, ...] = ()
    removed: tuple[str, ...] = ()
    restart: bool = False


@dataclass(frozen=True, slots=True)
class ReadResult:
    """How the read ended.

    `full` is true when every user the source holds was returned (so absent users are gone): the
    one statement of a complete read. The request asks for a full read by `since = None`, but
    only the source knows whether it gave one (a CSV with an unreadable row did not; an Entra
    delta whose link expired became one). `watermark` is the value to pass as `since` next time
    (from the server's own clock), or None when the source has no delta reads.
    """

    full: bool
    watermark: str | None = None
    stats: dict[str, int] = field(default_factory=dict)


SourceRead = Generator[Page, None, ReadResult]


class DirectorySource(Protocol):
    """A directory, opened from its tenant configuration."""

    kind: str

    def read(self, request: ReadRequest) -> SourceRead: ...


@runtime_checkable
class EarlyStart(Protocol):
    """A source that can begin a read's slow set-up before it is asked to read: the run calls
    `prepare(known_users)` (how many accounts the store holds for the tenant) before it loads
    the stored accounts, so the two overlap, and `close()` whatever happens next (the read may
    never come). SmartHR starts its reader process there (sync.sources.smarthr.reader)."""

    def prepare(self, known_users: int) -> None: ...

    def close(self) -> None: ...


def drain(read: SourceRead) -> Iterator[Page | ReadResult]:
    """Yields each page, then the ReadResult last: lets a `for` loop see the generator's return."""
    result = yield from read
    yield result


def cut_short(kind: str, failure: Exception, pages: int, read: str, budget: float) -> StopRun:
    """What a request that still failed after its retries (`budget` seconds) makes of the read:
    before the first page the source is unavailable; after it the read is incomplete, so nobody
    is disabled. `read` says how much was read (`120 users`)."""
    retried = f"retried for up to {budget:g} s"
    if not pages:
        return SourceUnavailable(f"{kind}: {failure} ({retried})")
    return IncompleteRead(
        f"{kind}: the read stopped after {read} ({pages} pages): {failure} ({retried}); "
        "nobody is disabled"
    )


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
Dates = tuple[date | None, date | None]


@lru_cache(maxsize=4096)
def read_dates(start: str | None, end: str | None, names: tuple[str, str]) -> Dates | str:
    """A person's start and end dates from `YYYY-MM-DD` texts (None or "" for none), or what is
    wrong with them, naming the field (`names`: the source's names of the two). Kept for the
    texts last seen: an HR source dates everyone, and whole cohorts share their dates."""
    found: list[date | None] = []
    for text, name in zip((start, end), names, strict=True):
        try:
            if text and not DAY.fullmatch(text):
                raise ValueError(text)
            found.append(date.fromisoformat(text) if text else None)
        except ValueError:
            return f"{name}: {text!r} is not a date (YYYY-MM-DD)"
    first, last = found
    if first is not None and last is not None and last < first:
        return f"{names[1]} {last} is before {names[0]} {first}"
    return first, last
