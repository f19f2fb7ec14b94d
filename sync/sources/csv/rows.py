"""One CSV row to a directory user, or to the reason it is malformed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason, user_from

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


def to_user(
    header: list[str],
    values: list[str],
    line: int,
    columns: Mapping[str, str],
    extra_fields: frozenset[str],
) -> DirectoryUser | Malformed:
    """`columns` maps attributes to header names; an empty name is a column the file lacks."""
    row = dict(zip(header, values, strict=False))

    def text(attribute: str) -> str | None:
        column = columns.get(attribute, attribute)
        value = row.get(column, "").strip() if column else ""
        return value or None

    source_id = text("source_id") or ""
    if len(values) != len(header):
        return Malformed(
            line, source_id, f"{len(values)} fields where the header has {len(header)}"
        )
    if not source_id:
        return Malformed(line, "", f"no source_id (column {columns['source_id']!r} is empty)")
    active_text = (text("active") or "").lower()
    if active_text and active_text not in TRUE_WORDS | FALSE_WORDS:
        return Malformed(
            line, source_id, f"active {active_text!r} is not true/false, 1/0 or yes/no"
        )
    emails = tuple(e.strip() for e in (text("emails") or "").split(";") if e.strip())
    extra = tuple(sorted((f, row[f].strip()) for f in extra_fields if row.get(f, "").strip()))
    return user_from(source_id, active_text not in FALSE_WORDS, text, emails, extra)
