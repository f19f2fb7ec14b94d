"""Drains a source's read for tests and benchmarks: every page, then the ReadResult."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.errors import UserIssue
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead


@dataclass
class Collected:
    pages: list[Page] = field(default_factory=list)
    result: ReadResult | None = None

    @property
    def users(self) -> list[DirectoryUser]:
        return [user for page in self.pages for user in page.users]

    @property
    def issues(self) -> list[UserIssue]:
        return [issue for page in self.pages for issue in page.issues]

    def by_id(self) -> dict[str, DirectoryUser]:
        return {user.source_id: user for user in self.users}


def collect(read: SourceRead) -> Collected:
    collected = Collected()
    while True:
        try:
            collected.pages.append(next(read))
        except StopIteration as stop:
            collected.result = stop.value
            return collected


def request(*attributes: str, extra: tuple[str, ...] = (), since: str | None = None) -> ReadRequest:
    return ReadRequest(frozenset(attributes), frozenset(extra), since)
