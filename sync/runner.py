"""One sync run of one tenant (SPEC §5, §10): read, plan, guard, then commit in one transaction
(sync.commit); a dry run stops after the guards and writes nothing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from sync.commit import Outcome, commit, finish
from sync.compose.collisions import NameBook
from sync.config import Settings, TenantSettings
from sync.describe import plan_line
from sync.directory import LOOKUP_ATTRIBUTES, ReadSummary, feed, read_lookup
from sync.errors import OutOfScope, StopRun
from sync.groups import rules_from
from sync.guards import Allowance, GuardKind, Held, guard
from sync.mail.notices import count_notices, notice_kind
from sync.model import PROFILE_ATTRIBUTES, AccountState, Action, Plan, RunStatus
from sync.ops.collector import run_thresholds
from sync.ops.logs import log_context
from sync.plan import Planner, Policy
from sync.report import ACTION_COUNTS, RunReport
from sync.sources import ONE_ENTRY_READS
from sync.sources.base import ReadRequest
from sync.store.accounts import (
    asked_name_book,
    count_active,
    load_states,
    name_book,
    quarantine_start,
    stored_profiles,
)
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.store.runs import read_state
from sync.timeutil import as_utc, utc_now
from sync.trace import explained

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    full: bool = False
    dry_run: bool = False
    # what may pass the guards: --allow-mass-disable, or an approved change set
    allowance: Allowance | None = None
    wait_seconds: float = 0
    run_id: str | None = None  # an approval names its run before starting it
    # SPEC §18: one person by source id, now (`sync --only`): a partial read, marked on demand
    only: str | None = None
    # with `only` and dry_run: that person's next-run decisions, step by step (`explain`); the
    # read being of that person alone, an account missing from it is planned as gone
    explain: bool = False


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
    except OutOfScope:  # a refusal, not a failed run: nothing is recorded
        raise
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
    only = options.only
    # explain reads as the next run will where the source cannot read one entry alone: the
    # same read, everyone planned, one person watched, so its words are the run's exactly
    alone = only is not None and not (options.explain and tenant.source.kind not in ONE_ENTRY_READS)
    watermark, full, states, active, book = _stored(engine, tenant, options, report, alone)
    groups = rules_from(
        tenant.scope.groups if tenant.scope else None,
        [(r.group, r.role, r.permission_scheme) for r in tenant.roles],
    )
    policy = Policy(rule, tenant.collision, tenant.auth_type == "password", groups)
    planner = Planner(states, book, policy, () if only is None else (only,))
    since = None if full else watermark
    summary = _read(tenant, planner, rule.attributes, since, len(states), only if alone else None)
    report.users_read = summary.users_read
    # the source says whether its read was complete (ReadResult.full), whatever was asked
    report.full = summary.result.full
    report.on_demand = only is not None and not options.explain
    if alone and options.explain and only is not None:  # the next run finds them gone if absent
        plan = planner.finish(full_read=True, among=(only,))
    else:  # `sync --only` disables nobody for being absent
        plan = planner.finish(full_read=report.full)
    if only is not None and only in planner.outside and not options.explain:
        raise OutOfScope(f"{only} is outside the tenant's group scope: nothing changed")
    outcome = _guarded(engine, tenant, plan, active, summary, options, report)
    _count(report, outcome.plan)
    if only is not None and options.explain:
        report.explained = _explained(tenant, planner, outcome, only, only in states, alone)
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


def _stored(
    engine: Engine, tenant: TenantSettings, options: RunOptions, report: RunReport, alone: bool
) -> tuple[str | None, bool, dict[str, AccountState], int, NameBook]:
    """(watermark, whether to read everything, account states, active accounts, name book).
    One person read alone (explain, --only) is read whatever their change time, with only
    their account loaded and held names asked for as the plan needs them."""
    since_released = quarantine_start(report.started_at, tenant.name_quarantine_days)
    with engine.connect() as conn:
        if alone and options.only is not None:
            states = load_states(conn, tenant.id, (options.only,))
            book = asked_name_book(engine, tenant.id, tenant.reserved_names, since_released)
            return None, True, states, count_active(conn, tenant.id), book
        watermark, full = _read_mode(conn, tenant, options)
        states = load_states(conn, tenant.id)
        active = sum(1 for state in states.values() if state.active)
        book = name_book(conn, tenant.id, states, tenant.reserved_names, since_released)
        return watermark, full, states, active, book


def _explained(
    tenant: TenantSettings,
    planner: Planner,
    outcome: Outcome,
    source_id: str,
    has_account: bool,
    alone: bool,
) -> dict[str, Any]:
    emails = _emails(tenant, outcome.plan, source_id)
    told = explained(planner.traces.get(source_id, []), source_id, outcome.plan, outcome.held,
                     has_account, emails)  # fmt: skip
    told["read"] = (
        f"{tenant.source.kind}: this person's entry alone; collisions judged against the "
        "stored accounts, the guards against this one change"
        if alone
        else f"{tenant.source.kind}: the whole directory, as the next run reads it"
    )
    return told


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
    only: str | None = None,
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
        only=only,
    )
    return feed(tenant.source, request, planner, lookups)


def _guarded(
    engine: Engine,
    tenant: TenantSettings,
    plan: Plan,
    active: int,
    summary: ReadSummary,
    options: RunOptions,
    report: RunReport,
) -> Outcome:
    """SPEC §10: each kind of change the plan has too many of is held back; so are the
    disables of a full read that returned nobody while accounts are active."""
    updated = [c.account_id for c in plan.changes if Action.UPDATE in c.actions and c.account_id]
    with engine.connect() as conn:
        before = stored_profiles(conn, updated)
    forced = {}
    if summary.result.full and summary.users_read == 0 and active:
        forced[GuardKind.DISABLE] = (
            f"the source returned no users while {active} accounts are active"
        )
    guarded = guard(plan, before, active, tenant.limits(), options.allowance, forced)
    if guarded.held:
        report.status = RunStatus.BLOCKED
        report.held = [
            {"kind": h.kind.value, "count": h.count, "reason": h.reason} for h in guarded.held
        ]
        report.error = "; ".join(_held_text(h, options.dry_run) for h in guarded.held)
    return Outcome(guarded.plan, guarded.held, before, summary.result)


def _emails(tenant: TenantSettings, plan: Plan, source_id: str) -> list[str]:
    """The emails the run would queue for this person (sync.mail.notices decides)."""
    if tenant.auth_type != "password":
        return []
    said = []
    for change in plan.changes:
        kind = notice_kind(change) if change.source_id == source_id else None
        if kind is not None and change.profile is not None:
            said.append(f"{kind} to {change.profile.values().primary_email}")
    return said


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
