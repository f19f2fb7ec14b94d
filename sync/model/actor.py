"""Who changed something (SPEC §10): a run, by its id, or an administrator, by name."""

from __future__ import annotations

from dataclasses import dataclass

RUN_ACTOR = "run"
ON_DEMAND_ACTOR = "run:on_demand"  # a run of one person now (`sync --only`, SPEC §18)


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    run_id: str | None = None

    @classmethod
    def run(cls, run_id: str, on_demand: bool = False) -> Actor:
        return cls(ON_DEMAND_ACTOR if on_demand else RUN_ACTOR, run_id)

    @classmethod
    def admin(cls, name: str) -> Actor:
        return cls(f"admin:{name}")
