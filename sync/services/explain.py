"""Explain a person, and run one person now (SPEC §18): `clomo-sync explain`, `sync --only`,
and the console's account page.

Both find the person first, in the store (an account's name, source id, address or employee
code) and else in the directory (one entry by id or DN where the source reads one; else every
user, by id, address, employee code or DN). The explanation is the run's own: a dry run of
that person alone, whose planner tells its decisions as it takes them (sync.planning.plan,
sync.planning.trace).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine

from sync.compose.normalize import normalize_text
from sync.config.settings import Settings, TenantSettings
from sync.errors import StopRun, UsageError
from sync.model import PROFILE_ATTRIBUTES, RunStatus
from sync.model.report import RunReport
from sync.services.directory import find_users
from sync.services.runner import RunOptions, run_tenant
from sync.store.accounts import accounts_known_as
from sync.store.engine import open_reader


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the next run would do for one person, and why, step by step."""

    tenant: str
    person: str  # as typed
    source_id: str
    steps: list[dict[str, str]]  # {"step": kind, "text": ...}, in the order decided
    action: str  # create, update, rename, disable, enable (joined by "+"), issue, unchanged, none
    issues: list[dict[str, Any]]
    emails: list[str]
    read: str  # how the person was read

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "person": self.person,
            "source_id": self.source_id,
            "read": self.read,
            "steps": self.steps,
            "action": self.action,
            "issues": self.issues,
            "emails": self.emails,
        }


def find_person(tenant: TenantSettings, engine: Engine, typed: str) -> str:
    """The source id of the one person `typed` names; UsageError (exit 2) for nobody or for
    several, listing them."""
    key = normalize_text(typed)
    if key is None:
        raise UsageError("PERSON is empty: give a source id, email, employee code, name or DN")
    with engine.connect() as conn:
        accounts = accounts_known_as(conn, tenant.id, key)
    if len(accounts) == 1:
        return accounts[0][0]
    if len(accounts) > 1:
        listed = "; ".join(f"{name} (source id {sid})" for sid, name in accounts)
        raise UsageError(f"{typed!r} names {len(accounts)} accounts of {tenant.id}: {listed}")
    users = find_users(tenant.source, frozenset(PROFILE_ATTRIBUTES), key)
    ids = sorted({user.source_id for user in users})
    if not ids:
        raise UsageError(
            f"nobody in {tenant.id} is {typed!r}: no account has that name, source id, email or "
            "employee code, and the directory has nobody with that id, email, employee code or DN"
        )
    if len(ids) > 1:
        listed = "; ".join(f"{u.source_id} ({u.display_name or u.primary_email or '-'})"
                           for u in sorted(users, key=lambda u: u.source_id))  # fmt: skip
        raise UsageError(f"{typed!r} names {len(ids)} people in {tenant.id}'s directory: {listed}")
    return ids[0]


def explain(settings: Settings, tenant: TenantSettings, engine: Engine, typed: str) -> Explanation:
    """The person's next-run decisions. Read-only like a dry run: give a reader engine
    (sync.store.engine.open_reader)."""
    source_id = find_person(tenant, engine, typed)
    options = RunOptions(dry_run=True, only=source_id, explain=True)
    report = run_tenant(settings, tenant, engine, options)
    if report.status == RunStatus.FAILED or report.explained is None:
        raise StopRun(report.error or "the run could not plan this person")
    told = report.explained
    return Explanation(tenant.id, typed, source_id, told["steps"], told["action"],
                       told["issues"], told["emails"], told["read"])  # fmt: skip


def explain_in_store(settings: Settings, tenant: TenantSettings, typed: str) -> Explanation:
    """`explain` on a reader of the configured store of its own (the console's): nothing can
    be written through it."""
    reader = open_reader(settings.database.url)
    try:
        return explain(settings, tenant, reader, typed)
    finally:
        reader.dispose()


def run_one(
    settings: Settings, tenant: TenantSettings, engine: Engine, typed: str, options: RunOptions
) -> RunReport:
    """`sync --only`: the person now, with the guards, audit and emails of a run; a partial
    read (nobody is disabled for being absent, no watermark moves), marked on demand. Someone
    outside the group scope raises OutOfScope (a UsageError): nothing is changed."""
    source_id = find_person(tenant, engine, typed)
    return run_tenant(settings, tenant, engine, replace(options, only=source_id, explain=False))
