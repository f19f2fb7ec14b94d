"""Deciding a change set (SPEC §10, §14): approving runs the tenant at once, with its settings as
they are now, and that kind of change allowed for the held accounts only; rejecting drops it.
Of two administrators deciding one set at once, exactly one succeeds; a second decision is
refused. A set that a later run superseded, or that expired, cannot be approved: the refusal
says why. Sets are named by any unique prefix of eight or more characters of their id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from sync.config.settings import Settings
from sync.errors import UsageError
from sync.model import RunStatus
from sync.model.actor import Actor
from sync.model.changeset import ChangeSet, ChangeSetStatus, HeldChange
from sync.model.ids import id_prefix, short_id, the_one
from sync.model.report import RunReport
from sync.planning.guards import Allowance, GuardKind
from sync.services.current import tenant_now
from sync.services.runner import RunOptions, run_tenant
from sync.store import changesets
from sync.store.engine import writing
from sync.timeutil import utc_now

APPROVAL_WAIT_SECONDS = 60  # for a run of the tenant already under way to end


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval's run, and how many of the set's changes it still planned and applied."""

    change_set: ChangeSet
    report: RunReport

    @property
    def applied(self) -> int:
        return self.report.approved_applied or 0

    @property
    def reopened(self) -> bool:
        """The run could not apply the set (failed, or the tenant was busy): pending again."""
        return self.report.status in (RunStatus.FAILED, RunStatus.SKIPPED_LOCKED)

    def summary(self) -> str:
        found, kind = self.change_set, self.change_set.kind
        if self.reopened:
            return f"change set {found.short_id} is pending again: the run did not apply it"
        if self.applied == 0:
            return (
                f"change set {found.short_id} approved, but run {short_id(self.report.run_id)} "
                f"applied none of its {found.count} held {kind} changes: the directory no "
                "longer calls for them"
            )
        return (
            f"change set {found.short_id} approved: run {short_id(self.report.run_id)} applied "
            f"{self.applied} of its {found.count} held {kind} changes"
        )


def resolve(conn: Connection, typed: str) -> str:
    """The full id of the one set whose id starts with `typed`."""
    found = changesets.ids_starting(conn, id_prefix(typed, "change set"))
    return the_one(typed, found, "change set", "changes list")


def show(engine: Engine, typed: str) -> tuple[ChangeSet, list[HeldChange]]:
    with engine.connect() as conn:
        set_id = resolve(conn, typed)
        found = changesets.find(conn, set_id)
        if found is None:  # resolved a moment ago: only a purge between could do this
            raise UsageError(f"no change set {typed!r}")
        return found, changesets.held_changes(conn, set_id)


def listing(
    settings: Settings, engine: Engine, tenant_id: str | None, status: str | None, limit: int = 100
) -> list[ChangeSet]:
    """The newest sets first, each pending one past its tenant's TTL shown (and stored) as
    expired first."""
    expire_due(settings, engine, tenant_id)
    with engine.connect() as conn:
        return changesets.listing(conn, tenant_id, status, limit)


def expire_due(settings: Settings, engine: Engine, tenant_id: str | None = None) -> None:
    """Ends the pending sets older than their tenant's `change_set_ttl_hours`, as it is now."""
    with engine.connect() as conn:
        tenants = changesets.tenants_pending(conn, tenant_id)
    for pending_tenant in tenants:
        tenant = tenant_now(settings, engine, pending_tenant)
        if tenant is None:
            continue
        with writing(engine) as conn:
            ttl = timedelta(hours=tenant.change_set_ttl_hours)
            changesets.expire(conn, tenant.id, ttl, utc_now())


def approve(settings: Settings, engine: Engine, typed: str, actor: Actor) -> Approval:
    """Runs the set's tenant now, with the tenant's settings as they are now and the held
    changes allowed; a run that could not apply them (failed, or another worker held the
    tenant) reopens the set."""
    found, held = show(engine, typed)
    tenant = tenant_now(settings, engine, found.tenant_id)
    if tenant is None:
        raise UsageError(f"tenant {found.tenant_id!r} is no longer configured (or disabled)")
    with writing(engine) as conn:
        changesets.expire(conn, tenant.id, timedelta(hours=tenant.change_set_ttl_hours), utc_now())
    run_id = str(uuid.uuid4())
    _decide(engine, found, ChangeSetStatus.APPROVED, actor, run_id)
    allowed = {GuardKind(found.kind): frozenset(h.source_id for h in held)}
    options = RunOptions(
        allowance=Allowance(approved=allowed), run_id=run_id, wait_seconds=APPROVAL_WAIT_SECONDS
    )
    report = run_tenant(settings, tenant, engine, options)
    approval = Approval(found, report)
    if approval.reopened:
        with writing(engine) as conn:
            changesets.reopen(conn, found.id, run_id)
    return approval


def reject(engine: Engine, typed: str, actor: Actor) -> ChangeSet:
    found, _held = show(engine, typed)
    _decide(engine, found, ChangeSetStatus.REJECTED, actor, None)
    return show(engine, found.id)[0]


def _decide(
    engine: Engine, found: ChangeSet, status: ChangeSetStatus, actor: Actor, run_id: str | None
) -> None:
    with writing(engine) as conn:
        if not changesets.decide(conn, found.id, status, actor.name, utc_now(), run_id):
            now = changesets.find(conn, found.id)
            raise UsageError(_not_pending(found, now))


def _not_pending(found: ChangeSet, now: ChangeSet | None) -> str:
    if now is None:
        return f"change set {found.short_id} is gone"
    why = f" ({now.outcome})" if now.outcome else ""
    by = f" by {now.decided_by}" if now.decided_by and not now.outcome else ""
    return (
        f"change set {now.short_id} is {now.status.value}{by}{why}: only a pending set can be "
        "decided"
    )
