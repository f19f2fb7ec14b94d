"""One sync run of one tenant (SPEC §5): read, plan, check safety, apply in one transaction."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, insert, select

from sync.config import Settings, TenantSettings
from sync.directory import LOOKUP_ATTRIBUTES, ReadSummary, feed, read_lookup
from sync.errors import StopRun
from sync.mail.notices import notices_for
from sync.mail.queue import message_domain, queue_notices
from sync.model import PROFILE_ATTRIBUTES
from sync.ops.logs import log_context
from sync.plan import AccountState, Change, Plan, Planner, Policy
from sync.report import ACTION_COUNTS, RunReport
from sync.sources.base import ReadRequest, ReadResult
from sync.store.accounts import load_states, name_book, quarantine_start
from sync.store.apply import change_accounts, create_accounts, split_plan
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.store.schema import runs, sync_state
from sync.timeutil import as_utc, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    full: bool = False
    dry_run: bool = False
    allow_mass_disable: bool = False
    wait_seconds: float = 0


def run_tenant(
    settings: Settings, tenant: TenantSettings, engine: Engine, options: RunOptions = RunOptions()
) -> RunReport:
    """Runs the tenant unless another worker is; never raises for a failed run."""
    report = RunReport(
        tenant.id, str(uuid.uuid4()), utc_now(), tenant.source.kind, dry_run=options.dry_run
    )
    with log_context(tenant.id, report.run_id):
        with named_lock(engine, f"tenant:{tenant.id}", options.wait_seconds) as held:
            if not held:
                report.status = "skipped_locked"
                report.error = "another worker is syncing this tenant; skipped"
            else:
                log.info("run started%s", " (dry run)" if options.dry_run else "")
                _guarded_run(settings, tenant, engine, options, report)
        report.finished_at = report.finished_at or utc_now()
        log.info("run ended: %s", report.status)
    return report


def _guarded_run(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    options: RunOptions,
    report: RunReport,
) -> None:
    try:
        _run(settings, tenant, engine, options, report)
    except StopRun as exc:
        report.status, report.error = "failed", str(exc)
    except Exception as exc:  # an unknown error stops the run; it is never retried blindly
        log.exception("tenant %s: unexpected error", tenant.id)
        report.status, report.error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"
    if report.status == "failed" and not options.dry_run:
        report.finished_at = utc_now()
        with writing(engine) as conn:
            _record(conn, report)


def _run(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    options: RunOptions,
    report: RunReport,
) -> None:
    rule = tenant.name_rule()
    with engine.connect() as conn:
        watermark, full = _read_mode(conn, tenant, options)
        states = load_states(conn, tenant.id)
        book = name_book(
            conn,
            tenant.id,
            states,
            tenant.reserved_names,
            quarantine_start(report.started_at, tenant.name_quarantine_days),
        )
    planner = Planner(states, book, Policy(rule, tenant.collision, tenant.auth_type == "password"))
    summary = _read(tenant, planner, rule.attributes, None if full else watermark)
    report.users_read = summary.users_read
    # the source says whether its read was complete (ReadResult.full), whatever was asked
    report.full = summary.result.full
    plan = planner.finish(full_read=report.full)
    plan = _check_safety(plan, tenant, summary, states, options, report)
    _count(report, plan)
    if options.dry_run:
        report.status = "planned"
        report.plan = [_describe(change) for change in plan.changes if change.actions]
        return
    _apply(settings, tenant, engine, plan, summary.result, report)


def _read_mode(
    conn: Connection, tenant: TenantSettings, options: RunOptions
) -> tuple[str | None, bool]:
    """(the delta watermark, whether this run reads everything)."""
    row = conn.execute(select(sync_state).where(sync_state.c.tenant_id == tenant.id)).first()
    interval = tenant.source.full_sync_interval_hours
    if options.full or interval is None or row is None or not row.watermark or not row.last_full_at:
        return None, True
    due = as_utc(row.last_full_at) + timedelta(hours=interval) <= utc_now()
    return (None if due else row.watermark), due


def _read(
    tenant: TenantSettings, planner: Planner, needed: frozenset[str], since: str | None
) -> ReadSummary:
    provided = tuple(a for a in LOOKUP_ATTRIBUTES if a in needed) if tenant.lookups else ()
    lookups = [read_lookup(lookup, provided) for lookup in tenant.lookups]
    extra = {lk.match_on for lk in tenant.lookups if lk.match_on not in ("email", "employee_code")}
    own = frozenset(needed - set(provided))
    request = ReadRequest(
        own | frozenset(PROFILE_ATTRIBUTES), frozenset(e for e in extra if e), since, required=own
    )
    return feed(tenant.source, request, planner, lookups)


def _check_safety(
    plan: Plan,
    tenant: TenantSettings,
    summary: ReadSummary,
    states: dict[str, AccountState],
    options: RunOptions,
    report: RunReport,
) -> Plan:
    """SPEC §5.3: too many disables, or an empty directory, blocks the disables."""
    disables = plan.count("disable")
    active = sum(1 for state in states.values() if state.active)
    reason = None
    if disables > tenant.max_disable:
        reason = (
            f"the plan disables {disables} accounts, more than max_disable = {tenant.max_disable}"
        )
    elif summary.result.full and summary.users_read == 0 and active:
        reason = f"the source returned no users while {active} accounts are active"
    if reason is None or options.allow_mass_disable:
        return plan
    report.status = "blocked"
    report.error = f"{reason}; nothing was disabled (rerun with --allow-mass-disable to apply)"
    return plan.without_disables()


def _count(report: RunReport, plan: Plan) -> None:
    for action, key in ACTION_COUNTS.items():
        report.counts[key] = plan.count(action)
    report.counts["unchanged"] = plan.unchanged
    report.issues = plan.issues
    report.count_issues()


def _apply(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    plan: Plan,
    result: ReadResult,
    report: RunReport,
) -> None:
    now = report.started_at
    creates, others = split_plan(plan)
    queued = 0
    with writing(engine) as conn:
        for batch, created_ids in create_accounts(conn, tenant.id, tenant.auth_type, creates, now):
            queued += _queue(conn, settings, tenant, report, batch, created_ids)
        change_accounts(conn, tenant.id, others, now)
        queued += _queue(conn, settings, tenant, report, others, {})
        report.counts["emails_queued"] = queued
        _save_state(conn, tenant.id, result, report)
        if report.status != "blocked":
            report.status = "succeeded"
        report.finished_at = utc_now()
        _record(conn, report)


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


def _save_state(conn: Connection, tenant_id: str, result: ReadResult, report: RunReport) -> None:
    row = conn.execute(select(sync_state).where(sync_state.c.tenant_id == tenant_id)).first()
    values = {"watermark": result.watermark or (row.watermark if row else None)}
    if result.full:
        values["last_full_at"] = report.started_at
    if row is None:
        conn.execute(insert(sync_state).values(tenant_id=tenant_id, **values))
    else:
        conn.execute(
            sync_state.update().where(sync_state.c.tenant_id == tenant_id).values(**values)
        )


def _record(conn: Connection, report: RunReport) -> None:
    conn.execute(
        insert(runs).values(
            id=report.run_id,
            tenant_id=report.tenant,
            status=report.status,
            dry_run=report.dry_run,
            full=report.full,
            started_at=report.started_at,
            finished_at=report.finished_at,
            report=json.dumps(report.as_json(), ensure_ascii=False),
        )
    )


def _describe(change: Change) -> dict[str, object]:
    data: dict[str, object] = {
        "source_id": change.source_id,
        "actions": sorted(change.actions),
        "name": change.name,
    }
    if change.old_name:
        data["old_name"] = change.old_name
    if change.why:
        data["why"] = change.why
    return data
