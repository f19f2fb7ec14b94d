"""Committing a run (SPEC §5.4, §10): the plan's changes with their audit events, the emails
they cause, the change sets of what the guards held back, the read state, the run record and
any alert, all in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from sync.config.settings import Settings, TenantSettings
from sync.mail.notices import notices_for
from sync.mail.queue import message_domain, queue_notices
from sync.model import Change, Plan, ProfileValues, RunStatus
from sync.model.actor import Actor
from sync.model.report import DATE_SWEEP, RunReport
from sync.ops import progress
from sync.planning.describe import held_change
from sync.planning.guards import GuardKind, Held
from sync.services.alerts import alerts_for
from sync.services.watch import run_ended
from sync.sources.base import ReadResult
from sync.store import audit, changesets
from sync.store.apply import change_accounts, create_accounts, split_plan
from sync.store.engine import writing
from sync.store.locks import check_held, note_writer
from sync.store.runs import last_status, record_run, save_read_state
from sync.timeutil import utc_now


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run decided: the plan to apply, what it held back, the stored values it needs."""

    plan: Plan
    held: list[Held]
    before: Mapping[int, ProfileValues]
    result: ReadResult


def commit(
    settings: Settings, tenant: TenantSettings, engine: Engine, outcome: Outcome, report: RunReport
) -> None:
    now = report.started_at
    actor = Actor.run(report.run_id, report.on_demand)
    creates, others = split_plan(outcome.plan)
    queued = 0
    with writing(engine) as conn:
        note_writer(conn)  # taking the tenant's lock back ends this session too
        check_held()  # a lock already gone: nothing to write (and checked again last)
        with progress.bar("writing accounts", total=len(creates), unit="accounts") as advance:
            for batch, ids in create_accounts(
                conn, tenant.id, tenant.auth_type, creates, now, actor
            ):
                queued += _queue(conn, settings, tenant, report, batch, ids)
                advance(len(batch))
        change_accounts(conn, tenant.id, others, now, actor, outcome.before)
        queued += _queue(conn, settings, tenant, report, others, {})
        report.counts["emails_queued"] = queued
        _hold(conn, tenant, outcome, report)
        full_read_at = now if outcome.result.full else None
        save_read_state(conn, tenant.id, outcome.result.watermark, full_read_at)
        audit.purge(conn, tenant.id, now - timedelta(days=tenant.audit_retention_days))
        if report.status != RunStatus.BLOCKED:
            report.status = RunStatus.SUCCEEDED
        finish(conn, settings, tenant, report)
        # last, inside the transaction (SPEC §15): a run whose lock was taken back (its time
        # limit, its worker fenced) or whose lock session ended rolls back instead of committing
        check_held()


def finish(conn: Connection, settings: Settings, tenant: TenantSettings, report: RunReport) -> None:
    """Records the run and queues the alert its status change calls for (failed runs too)."""
    previous = last_status(conn, tenant.id)
    report.finished_at = utc_now()
    record_run(conn, report)
    if report.source_kind != DATE_SWEEP:  # a sweep reads no directory: it proves no sync runs
        run_ended(conn, settings, tenant, report.finished_at)
    alerts = list(alerts_for(tenant, report, previous))
    if alerts:
        queue_notices(conn, tenant.id, alerts, now=report.started_at, token_ttl=timedelta(0),
                      domain=message_domain(settings, tenant), run_id=report.run_id)  # fmt: skip


def _hold(conn: Connection, tenant: TenantSettings, outcome: Outcome, report: RunReport) -> None:
    """One change set per kind held back; the report names each. Pending sets do not outlive
    their cause (SPEC §14): a complete read that holds no change of a kind supersedes the
    pending sets of that kind, and sets past `change_set_ttl_hours` expire."""
    now = report.started_at
    changesets.expire(conn, tenant.id, timedelta(hours=tenant.change_set_ttl_hours), now)
    if outcome.result.full:
        held_kinds = {held.kind.value for held in outcome.held}
        quiet = [kind.value for kind in GuardKind if kind.value not in held_kinds]
        changesets.supersede(conn, tenant.id, quiet, report.run_id, now)
    for held in outcome.held:
        changes = [held_change(held.kind, c, outcome.before) for c in held.changes]
        set_id = changesets.save(conn, tenant.id, report.run_id, held.kind, held.reason,
                                 changes, report.started_at)  # fmt: skip
        for line in report.held:
            if line["kind"] == held.kind:
                line["change_set"] = set_id


def _queue(
    conn: Connection,
    settings: Settings,
    tenant: TenantSettings,
    report: RunReport,
    changes: list[Change],
    created_ids: dict[str, int],
) -> int:
    """Queues the emails `changes` cause (none for tenants that sign in by SSO)."""
    if tenant.auth_type != "password":
        return 0
    return queue_notices(
        conn,
        tenant.id,
        notices_for(tenant, changes, created_ids),
        now=report.started_at,
        token_ttl=timedelta(hours=tenant.token_ttl_hours),
        domain=message_domain(settings, tenant),
        run_id=report.run_id,
    )
