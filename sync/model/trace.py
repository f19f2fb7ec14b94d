"""One person's way through a run's decisions (SPEC §18 `explain`): the steps the plan, the
guards and the mail took for them, in order, as the deciding code recorded them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StepKind(StrEnum):
    READ = "read"  # the source record as read (the mapped fields)
    SCOPE = "scope"  # in or out of the tenant's group scope, and by which group
    ROLE = "role"  # the privilege the role rules give, and by which group
    NAME = "name"  # the naming rule, the value it read, each normalisation
    COLLISION = "collision"  # the name free, suffixed, or in conflict with its holder
    ISSUE = "issue"  # a per-person issue the run reports
    GUARD = "guard"  # a guard holding the person's change back, and its bound
    ACTION = "action"  # what the run does to the account
    EMAIL = "email"  # the emails the run queues for the person


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    text: str

    def as_json(self) -> dict[str, str]:
        return {"step": self.kind, "text": self.text}
