"""Who changed something (SPEC §10): a run, by its id, or an administrator, by name."""

from __future__ import annotations

from dataclasses import dataclass

RUN_ACTOR = "run"


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    run_id: str | None = None

    @classmethod
    def run(cls, run_id: str) -> Actor:
        return cls(RUN_ACTOR, run_id)

    @classmethod
    def admin(cls, name: str) -> Actor:
        return cls(f"admin:{name}")
