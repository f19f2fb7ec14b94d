"""The one contract every directory source keeps (STYLE.md 1).

A source's `read` is a generator: it yields `Page`s of normalised users as it receives them, and
returns a `ReadResult` when the read is over. A read that cannot be completed raises `StopRun`
(usually `IncompleteRead`): the caller then disables nobody. Nothing past a source sees a
vendor type.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sync.errors import UserIssue
from sync.model import DirectoryUser

if TYPE_CHECKING:
    from sqlalchemy import Engine


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

    `tenant` and `store` are for the one source whose directory lives in the store (`scim`,
    what identity providers pushed): the run's tenant and its store. Other sources ignore them.
    """

    attributes: frozenset[str]
    extra_fields: frozenset[str] = frozenset()
    since: str | None = None
    required: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    known_users: int = 0
    tenant: str | None = None
    store: Engine | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Part of a read. `removed` are source ids the directory says were deleted (a delta read's
    removals): their accounts are disabled like those of users gone from a full read."""

    users: tuple[DirectoryUser, ...] = ()
    issues: tuple[UserIssue, ...] = ()
    removed: tuple[str, ...] = ()


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


def drain(read: SourceRead) -> Iterator[Page | ReadResult]:
    """Yields each page, then the ReadResult last: lets a `for` loop see the generator's return."""
    result = yield from read
    yield result
