"""A per-user problem: not an exception, a line of the run's report (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass

from sync.model.enums import IssueReason


@dataclass(frozen=True, slots=True)
class UserIssue:
    """A user that got no account (or whose account was left alone), and why."""

    source_id: str
    reason: IssueReason
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"source_id": self.source_id, "reason": self.reason, "detail": self.detail}
