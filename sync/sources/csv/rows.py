"""One CSV row to a directory user, or to the reason it is malformed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sync.errors import UserIssue
from sync.model import SINGLE_ATTRIBUTES, DirectoryUser, IssueReason, user_from
from sync.sources.base import read_dates

DATES = ("start_date", "end_date")

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True, slots=True)
class Malformed:
    """A row that is no user: its line, its id when one could be read, and what is wrong."""

    line: int
    source_id: str
    problem: str

    def issue(self) -> UserIssue:
        # SPEC §7's reasons are a closed list: a malformed row is a missing attribute
        return UserIssue(
            self.source_id or f"line {self.line}",
            IssueReason.MISSING_ATTRIBUTE,
            f"line {self.line}: {self.problem}",
        )


class RowLayout:
    """Where each attribute sits in a row, worked out once from the header.

    `columns` maps attributes to header names; an empty name is a column the file lacks.
    """

    def __init__(
        self,
        header: list[str],
        columns: Mapping[str, str],
        extra_fields: frozenset[str],
        groups: frozenset[str] = frozenset(),
    ) -> None:
        first = {name: i for i, name in reversed(list(enumerate(header)))}
        self.width = len(header)
        self.id_column = columns["source_id"]
        self.at: dict[str, int] = {}
        # a `groups` cell names groups separated by ";": compared without case, kept as the
        # tenant's configuration spells them
        self.groups = {name.casefold(): name for name in groups}
        # the dates are read where the export has them (SPEC §16): optional columns
        every = (*SINGLE_ATTRIBUTES, *DATES, "source_id", "active", "emails", "groups")
        self.dates = (columns.get("start_date", "start_date"), columns.get("end_date", "end_date"))
        for attribute in every:
            column = columns.get(attribute, attribute)
            if column in first:
                self.at[attribute] = first[column]
        self.extra = tuple((f, first[f]) for f in sorted(extra_fields) if f in first)

    def to_user(self, values: list[str], line: int) -> DirectoryUser | Malformed:
        at = self.at
        if len(values) != self.width:
            where = at["source_id"]
            known = values[where].strip() if where < len(values) else ""
            return Malformed(line, known, f"{len(values)} fields where the header has {self.width}")

        def text(attribute: str) -> str | None:
            index = at.get(attribute)
            return None if index is None else values[index].strip() or None

        source_id = text("source_id")
        if not source_id:
            return Malformed(line, "", f"no source_id (column {self.id_column!r} is empty)")
        active_text = (text("active") or "").lower()
        if active_text and active_text not in TRUE_WORDS | FALSE_WORDS:
            return Malformed(
                line, source_id, f"active {active_text!r} is not true/false, 1/0 or yes/no"
            )
        emails = tuple(e.strip() for e in (text("emails") or "").split(";") if e.strip())
        extra = tuple((f, values[i].strip()) for f, i in self.extra if values[i].strip())
        named = (g.strip().casefold() for g in (text("groups") or "").split(";"))
        groups = [self.groups[g] for g in named if g in self.groups]
        user = user_from(source_id, active_text not in FALSE_WORDS, text, emails, extra, groups)
        if "start_date" not in at and "end_date" not in at:
            return user
        dates = read_dates(text("start_date"), text("end_date"), self.dates)
        if isinstance(dates, str):
            return Malformed(line, source_id, dates)
        return replace(user, start_date=dates[0], end_date=dates[1])
