"""A change set (SPEC §10): the changes of one kind a blocked run held back, for review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sync.model.ids import short_id


class ChangeSetStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class HeldChange:
    """One held change as `changes show` prints it."""

    account: str
    source_id: str
    action: str
    fields: dict[str, list[Any]]

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "source_id": self.source_id, "action": self.action,
                "fields": self.fields}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChangeSet:
    id: str
    tenant_id: str
    run_id: str
    kind: str  # disable | rename | clear
    count: int
    reason: str
    created_at: datetime
    status: ChangeSetStatus
    decided_at: datetime | None = None
    decided_by: str | None = None
    decided_run_id: str | None = None
    outcome: str | None = None  # why it ended without a decision: superseded or expired

    @property
    def short_id(self) -> str:
        return short_id(self.id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "run_id": self.run_id,
            "kind": self.kind,
            "count": self.count,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "status": self.status.value,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decided_by": self.decided_by,
            "decided_run_id": self.decided_run_id,
            "outcome": self.outcome,
        }
