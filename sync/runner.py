"""One sync run of one tenant (SPEC §5, §10): read, plan, guard, then commit in one transaction
(sync.commit); a dry run stops after the guards and writes nothing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from sync.commit import Outcome, commit, finish
from sync.config import Settings, TenantSettings
from sync.describe import plan_line
from sync.directory import LOOKUP_ATTRIBUTES, ReadSummary, feed, read_lookup
from sync.errors import StopRun
from sync.groups import rules_from
from sync.guards import Allowance, GuardKind, Held, guard
from sync.mail.notices import count_notices
from sync.model import PROFILE_ATTRIBUTES, AccountState, Action, Plan, RunStatus
from sync.ops.collector import run_thresholds
from sync.ops.logs import log_context
from sync.plan import Planner, Policy
from sync.report import ACTION_COUNTS, RunReport
from sync.sources.base import ReadRequest
from sync.store.accounts import load_states, name_book, quarantine_start, stored_profiles
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.store.runs import read_state
from sync.timeutil import as_utc, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    full: bool = False
    dry_run: bool = False
    # what may pass the guards: --allow-mass-disable, or an approved change set
    allowance: Allowance | None = None
    wait_seconds: float = 0
    run_id: str | None = None  # an approval names its run before starting it


def run_tenant(
    settings: Settings, tenant: TenantSettings, engine: Engine, options: RunOptions = RunOptions()
) -> RunReport:
    """Runs the tenant unless another worker is; never raises for a failed run. A dry run
    needs only a reader (sync.store.engine.open_reader) and writes nothing."""
    run_id = options.run_id or str(uuid.uuid4())
    report = RunReport(tenant.id, run_id, utc_now(), tenant.source.kind, dry_run=options.dry_run)
    with log_context(tenant.id, report.run_id):
        if options.dry_run:  # reads a snapshot and writes nothing, not even a lock
            log.info("run started (dry run)")
            _guarded_run(settings, tenant, engine, options, report)
        else:
            with named_lock(engine, f"tenant:{tenant.id}", options.wait_seconds) as held:
                if not held:
                    report.status = RunStatus.SKIPPED_LOCKED
                    report.error = "another worker is syncing this tenant; skipped"
                else:
                    log.info("run started")
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
        with run_thresholds():
            _run(settings, tenant, engine, options, report)
    except StopRun as exc:
        report.status, report.error = RunStatus.FAILED, str(exc)
    except Exception as exc:  # an unknown error stops the run; it is never retried blindly
        log.exception("tenant %s: unexpected error", tenant.id)
        report.status, report.error = (
            RunStatus.FAILED,
            f"unexpected error: {type(exc).__name__}: {exc}",
        )
    if report.status == RunStatus.FAILED and not options.dry_run:
        with writing(engine) as conn:
            finish(conn, settings, tenant, report)


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
    groups = rules_from(
        tenant.scope.groups if tenant.scope else None,
        [(r.group, r.role, r.permission_scheme) for r in tenant.roles],
    )
    policy = Policy(rule, tenant.collision, tenant.auth_type == "password", groups)
    planner = Planner(states, book, policy)
    summary = _read(
        tenant, planner, rule.attributes, None if full else watermark, len(states), engine
    )
    report.users_read = summary.users_read
    # the source says whether its read was complete (ReadResult.full), whatever was asked
    report.full = summary.result.full
    plan = planner.finish(full_read=report.full)
    outcome = _guarded(engine, tenant, plan, states, summary, options, report)
    _count(report, outcome.plan)
    if options.dry_run:
        report.status = RunStatus.PLANNED
        report.counts["emails_queued"] = (
            count_notices(outcome.plan.changes) if tenant.auth_type == "password" else 0
        )
        report.plan = [
            plan_line(change, outcome.before.get(change.account_id or 0))
            for change in outcome.plan.changes
            if change.actions or change.invite
        ]
        return
    commit(settings, tenant, engine, outcome, report)


def _read_mode(
    conn: Connection, tenant: TenantSettings, options: RunOptions
) -> tuple[str | None, bool]:
    """(the delta watermark, whether this run reads everything)."""
    state = read_state(conn, tenant.id)
    interval = tenant.source.full_sync_interval_hours
    if options.full or interval is None or state is None:
        return None, True
    if not state.watermark or not state.last_full_at:
        return None, True
    due = as_utc(state.last_full_at) + timedelta(hours=interval) <= utc_now()
    return (None if due else state.watermark), due


def _read(
    tenant: TenantSettings,
    planner: Planner,
    needed: frozenset[str],
    since: str | None,
    known_users: int,
    engine: Engine,
) -> ReadSummary:
    provided = tuple(a for a in LOOKUP_ATTRIBUTES if a in needed) if tenant.lookups else ()
    lookups = [read_lookup(lookup, provided) for lookup in tenant.lookups]
    extra = {lk.match_on for lk in tenant.lookups if lk.match_on not in ("email", "employee_code")}
    own = frozenset(needed - set(provided))
    request = ReadRequest(
        own | frozenset(PROFILE_ATTRIBUTES),
        frozenset(e for e in extra if e),
        since,
        required=own,
        groups=tenant.groups(),
        known_users=known_users,
        tenant=tenant.id,
        store=engine,
    )
    return feed(tenant.source, request, planner, lookups)


def _guarded(
    engine: Engine,
    tenant: TenantSettings,
    plan: Plan,
    states: dict[str, AccountState],
    summary: ReadSummary,
    options: RunOptions,
    report: RunReport,
) -> Outcome:
    """SPEC §10: each kind of change the plan has too many of is held back; so are the
    disables of a full read that returned nobody while accounts are active."""
    updated = [c.account_id for c in plan.changes if Action.UPDATE in c.actions and c.account_id]
    with engine.connect() as conn:
        before = stored_profiles(conn, updated)
    active = sum(1 for state in states.values() if state.active)
    forced = {}
    if summary.result.full and summary.users_read == 0 and active:
        forced[GuardKind.DISABLE] = (
            f"the source returned no users while {active} accounts are active"
        )
    guarded = guard(plan, before, active, tenant.limits(), options.allowance, forced)
    if options.allowance is not None and options.allowance.approved:
        report.approved_applied = guarded.approved
    if guarded.held:
        report.status = RunStatus.BLOCKED
        report.held = [
            {"kind": h.kind.value, "count": h.count, "reason": h.reason} for h in guarded.held
        ]
        report.error = "; ".join(_held_text(h, options.dry_run) for h in guarded.held)
    return Outcome(guarded.plan, guarded.held, before, summary.result)


def _held_text(held: Held, dry_run: bool) -> str:
    what = {"disable": "disable", "rename": "rename", "clear": "cleared field"}[held.kind]
    what += "s" if held.count != 1 else ""
    if dry_run:
        return f"the run would hold back {held.count} {what}: {held.reason}"
    return (
        f"held back {held.count} {what}: {held.reason}; everything else was applied "
        "(review with `clomo-sync changes list`)"
    )


def _count(report: RunReport, plan: Plan) -> None:
    for action, key in ACTION_COUNTS.items():
        report.counts[key] = plan.count(action)
    report.counts["unchanged"] = plan.unchanged
    report.issues = plan.issues
    report.count_issues()
