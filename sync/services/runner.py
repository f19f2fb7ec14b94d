"""One sync run of one tenant (SPEC §5, §10): read, plan, guard, then commit in one transaction
(sync.services.commit); a dry run stops after the guards and writes nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings
from sync.errors import LockLost, OutOfScope, StopRun
from sync.mail.notices import count_notices, notice_kind
from sync.model import PROFILE_ATTRIBUTES, Action, Plan, RunStatus
from sync.model.report import ACTION_COUNTS, DATE_SWEEP, RunReport
from sync.ops.collector import run_thresholds
from sync.ops.logs import log_context
from sync.planning.dates import Calendar
from sync.planning.describe import plan_line
from sync.planning.groups import rules_from
from sync.planning.guards import Allowance, GuardKind, Held, guard
from sync.planning.plan import Planner, Policy
from sync.planning.trace import explained
from sync.services.commit import Outcome, commit, finish
from sync.services.directory import LOOKUP_ATTRIBUTES, ReadSummary, feed, prepared, read_lookup
from sync.services.run_state import Shape, run_state
from sync.services.scim.directory import StoredPushes
from sync.sources import ONE_ENTRY_READS, open_source
from sync.sources.base import DirectorySource, ReadRequest, ReadResult
from sync.store.accounts import stored_profiles
from sync.store.engine import writing
from sync.store.locks import Lease, check_held, leased
from sync.timeutil import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    full: bool = False
    dry_run: bool = False
    # what may pass the guards: --allow-mass-disable, or an approved change set
    allowance: Allowance | None = None
    wait_seconds: float = 0
    run_id: str | None = None  # an approval names its run before starting it
    # the plan's time (SPEC §16's dates are judged at it); None: now
    now: datetime | None = None
    # the date sweep (sync.services.datesweep): the stored accounts' dates act, no source is read
    date_sweep: bool = False
    # SPEC §18: one person by source id, now (`sync --only`): a partial read, marked on demand
    only: str | None = None
    # with `only` and dry_run: that person's next-run decisions, step by step (`explain`); the
    # read being of that person alone, an account missing from it is planned as gone
    explain: bool = False


def run_tenant(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    options: RunOptions = RunOptions(),
    on_lease: Callable[[Lease], None] | None = None,
) -> RunReport:
    """Runs the tenant unless another worker is; never raises for a failed run, but raises
    LockLost when the tenant's lock was taken back (sync.services.runlimit, a fenced worker):
    then nothing was committed. A dry run needs only a reader (sync.store.engine.open_reader)
    and writes nothing. `on_lease` is given the tenant's lock once held (the time limit's
    watchdog takes it back)."""
    run_id = options.run_id or str(uuid.uuid4())
    kind = DATE_SWEEP if options.date_sweep else tenant.source.kind
    report = RunReport(tenant.id, run_id, options.now or utc_now(), kind, dry_run=options.dry_run)
    with log_context(tenant.id, report.run_id):
        if options.dry_run:  # reads a snapshot and writes nothing, not even a lock
            log.info("run started (dry run)")
            _guarded_run(settings, tenant, engine, options, report)
        else:
            with leased(engine, f"tenant:{tenant.id}", options.wait_seconds) as held:
                if held is not None and on_lease is not None:
                    on_lease(held)
                if held is None:
                    report.status = RunStatus.SKIPPED_LOCKED
                    report.error = "another worker is syncing this tenant; skipped"
                else:
                    log.info("run started")
                    _lock_kept(lambda: _guarded_run(settings, tenant, engine, options, report))
        report.finished_at = report.finished_at or utc_now()
        log.info("run ended: %s", report.status)
    return report


def _lock_kept(run: Callable[[], None]) -> None:
    """Runs `run`; a failure caused by a lost lock (a fenced worker's transaction ended too,
    whose rollback then fails) is the LockLost it is."""
    try:
        run()
    except Exception as error:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, LockLost):
            cause = cause.__context__
        if cause is not None and cause is not error:
            raise cause from None
        raise


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
    except (OutOfScope, LockLost):  # a refusal, or a lock lost: nothing is recorded
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
            check_held()  # a run whose lock went records nothing: its retry will
            finish(conn, settings, tenant, report)


def _run(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    options: RunOptions,
    report: RunReport,
) -> None:
    if options.date_sweep:  # the stored dates alone: no source
        _planned_run(settings, tenant, engine, options, report, None)
        return
    # opened first: a source that can begins its read while the stored accounts load
    whole = options.only is None
    with prepared(open_source(tenant.source), engine, tenant.id, whole) as source:
        _planned_run(settings, tenant, engine, options, report, source)


def _planned_run(
    settings: Settings,
    tenant: TenantSettings,
    engine: Engine,
    options: RunOptions,
    report: RunReport,
    source: DirectorySource | None,
) -> None:
    rule = tenant.name_rule()
    calendar = Calendar.at(report.started_at, tenant.timezone, tenant.invite_days_before_start)
    only = options.only
    # explain reads as the next run will where the source cannot read one entry alone: the
    # same read, everyone planned, one person watched, so its words are the run's exactly
    alone = only is not None and not (options.explain and tenant.source.kind not in ONE_ENTRY_READS)
    shape = Shape(options.full, options.date_sweep, only if alone else None)
    stored = run_state(engine, tenant, report.started_at, calendar, shape)
    groups = rules_from(
        tenant.scope.groups if tenant.scope else None,
        [(r.group, r.role, r.permission_scheme) for r in tenant.roles],
    )
    policy = Policy(rule, tenant.collision, tenant.auth_type == "password", groups, calendar)
    planner = Planner(stored.states, stored.book, policy, () if only is None else (only,))
    if source is None:  # a date sweep: the stored dates alone, nothing read, nobody absent
        summary = ReadSummary(ReadResult(full=False), 0)
    else:
        since = None if stored.full else stored.watermark
        summary = _read(tenant, source, planner, rule.attributes, since, len(stored.states),
                        only if alone else None, engine)  # fmt: skip
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
    outcome = _guarded(engine, tenant, plan, stored.active, summary, options, report)
    _count(report, outcome.plan)
    if only is not None and options.explain:
        has_account = only in stored.states
        report.explained = _explained(tenant, planner, outcome, only, has_account, alone)
    if options.date_sweep and not (outcome.plan.changes or outcome.held):
        report.status = RunStatus.SUCCEEDED  # nothing came due: no run to record
        return
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


def _read(
    tenant: TenantSettings,
    source: DirectorySource,
    planner: Planner,
    needed: frozenset[str],
    since: str | None,
    known_users: int,
    only: str | None,
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
        only=only,
        pushed=StoredPushes(engine, tenant.id) if tenant.source.kind == "scim" else None,
        restartable=True,  # feed starts the planner again when the source does
    )
    return feed(source, request, planner, lookups)


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
    disables of a full read that returned nobody while accounts are active. `active`: the
    tenant's active accounts, the percent bounds' base."""
    updated = [c.account_id for c in plan.changes if Action.UPDATE in c.actions and c.account_id]
    with engine.connect() as conn:
        before = stored_profiles(conn, updated)
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
