"""Deciding a change set (SPEC §10): approving runs the tenant at once with that kind of change
allowed for the held accounts only; rejecting drops it. Of two administrators deciding one set at
once, exactly one succeeds; a second decision is refused."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from sync.config import Settings
from sync.errors import UsageError
from sync.guards import Allowance, GuardKind
from sync.model import RunStatus
from sync.model.changeset import ChangeSet, ChangeSetStatus, HeldChange
from sync.report import RunReport
from sync.runner import RunOptions, run_tenant
from sync.store import changesets
from sync.store.audit import Actor
from sync.store.engine import writing
from sync.timeutil import utc_now

APPROVAL_WAIT_SECONDS = 60  # for a run of the tenant already under way to end


def show(engine: Engine, set_id: str) -> tuple[ChangeSet, list[HeldChange]]:
    with engine.connect() as conn:
        found = changesets.find(conn, set_id)
        if found is None:
            raise UsageError(f"no change set {set_id!r} (see `clomo-sync changes list`)")
        return found, changesets.held_changes(conn, set_id)


def approve(settings: Settings, engine: Engine, set_id: str, actor: Actor) -> RunReport:
    """Runs the set's tenant now with its held changes allowed; the report of that run. A run
    that could not apply them (failed, or another worker held the tenant) reopens the set."""
    found, held = show(engine, set_id)
    tenant = settings.tenant(found.tenant_id)
    run_id = str(uuid.uuid4())
    _decide(engine, found, ChangeSetStatus.APPROVED, actor, run_id)
    allowed = {GuardKind(found.kind): frozenset(h.source_id for h in held)}
    options = RunOptions(
        allowance=Allowance(approved=allowed), run_id=run_id, wait_seconds=APPROVAL_WAIT_SECONDS
    )
    report = run_tenant(settings, tenant, engine, options)
    if report.status in (RunStatus.FAILED, RunStatus.SKIPPED_LOCKED):
        with writing(engine) as conn:
            changesets.reopen(conn, set_id, run_id)
    return report


def reject(engine: Engine, set_id: str, actor: Actor) -> ChangeSet:
    found, _held = show(engine, set_id)
    _decide(engine, found, ChangeSetStatus.REJECTED, actor, None)
    return show(engine, set_id)[0]


def _decide(
    engine: Engine, found: ChangeSet, status: ChangeSetStatus, actor: Actor, run_id: str | None
) -> None:
    with writing(engine) as conn:
        if not changesets.decide(conn, found.id, status, actor.name, utc_now(), run_id):
            now = changesets.find(conn, found.id)
            said = now.status.value if now else "gone"
            raise UsageError(f"change set {found.id} is {said}: only a pending set can be decided")
