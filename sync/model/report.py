"""The report of one run: what SPEC §7's `sync --json` prints and `runs list` shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.model import Action, IssueReason, RunStatus, UserIssue

COUNT_KEYS = (
    "created",
    "updated",
    "renamed",
    "disabled",
    "enabled",
    "unchanged",
    "skipped",
    "conflicts",
    "emails_queued",
)
# plan action -> report count
ACTION_COUNTS = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.RENAME: "renamed",
    Action.DISABLE: "disabled",
    Action.ENABLE: "enabled",
}
NOT_SKIPPED = {IssueReason.NAME_CONFLICT, IssueReason.MISSING_EMAIL}

DATE_SWEEP = "date_sweep"  # the source kind in the report of a date sweep (no source read)


@dataclass(slots=True)
class RunReport:
    tenant: str
    run_id: str
    started_at: datetime
    source_kind: str
    status: RunStatus = RunStatus.FAILED
    dry_run: bool = False
    full: bool = True
    finished_at: datetime | None = None
    users_read: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    issues: list[UserIssue] = field(default_factory=list)
    error: str | None = None
    plan: list[dict[str, Any]] | None = None  # only for a dry run: the changes it would make
    # what the guards held back: {kind, count, reason, change_set} each (SPEC §10)
    held: list[dict[str, Any]] = field(default_factory=list)
    # a run approving a change set: how many of the set's changes it still planned and applied
    approved_applied: int | None = None
    on_demand: bool = False  # `sync --only`: one person, now (SPEC §18)
    # `explain`: one person's steps, action and emails (sync.planning.trace); never recorded
    explained: dict[str, Any] | None = None

    def count_issues(self) -> None:
        self.counts["conflicts"] = sum(
            1 for i in self.issues if i.reason == IssueReason.NAME_CONFLICT
        )
        self.counts["skipped"] = len(
            {i.source_id for i in self.issues if i.reason not in NOT_SKIPPED}
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tenant": self.tenant,
            "run_id": self.run_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "full": self.full,
            "on_demand": self.on_demand,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "source": {"kind": self.source_kind, "users_read": self.users_read},
            "counts": dict(self.counts),
            "issues": [issue.as_json() for issue in self.issues],
            "error": self.error,
        }
        if self.held:
            data["held"] = self.held
        if self.approved_applied is not None:
            data["approved_applied"] = self.approved_applied
        if self.plan is not None:
            data["plan"] = self.plan
        return data
