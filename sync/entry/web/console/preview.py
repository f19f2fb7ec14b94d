"""What a change of a tenant's naming rule or authentication type would do: a dry run of the
tenant with the changed settings against the store, read-only (SPEC §10's dry run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from sync.config.settings import AuthType, NameSource, Settings, TenantSettings
from sync.errors import StopRun
from sync.model import IssueReason
from sync.model.report import COUNT_KEYS, RunReport
from sync.planning.guards import Allowance, GuardKind
from sync.services.runner import RunOptions, run_tenant
from sync.services.storage import for_reading

EDITABLE = ("account_name_source", "custom_template", "auth_type")
SOURCES: tuple[str, ...] = get_args(NameSource)
AUTH_TYPES: tuple[str, ...] = get_args(AuthType)
EXAMPLES = 20
RENAMES = frozenset({GuardKind.RENAME})
# the issues of people the rule would give no name: a template's filters show here (SPEC §18)
UNNAMED = frozenset({IssueReason.MISSING_ATTRIBUTE, IssueReason.INVALID_NAME})


@dataclass
class Preview:
    status: str  # planned | blocked | failed
    counts: dict[str, int]  # what the run would do, guards applied
    renames_planned: int  # renames the rule asks for, held back or not
    renames: list[tuple[str, str]]  # the first EXAMPLES, (old, new)
    conflicts: list[dict[str, Any]]  # the first EXAMPLES name_conflict issues
    held: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    unnamed: list[dict[str, Any]] = field(default_factory=list)  # the first EXAMPLES


def wanted_changes(
    tenant: TenantSettings, form: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The keys the form changes (only those that differ from the tenant's) and what is wrong
    with them, checked as the configuration file's are."""
    asked: dict[str, Any] = {
        "account_name_source": form.get("account_name_source", ""),
        "custom_template": form.get("custom_template", "").strip() or None,
        "auth_type": form.get("auth_type", ""),
    }
    if asked["account_name_source"] != "custom":
        asked["custom_template"] = tenant.custom_template  # kept, and unused
    changes = {k: v for k, v in asked.items() if getattr(tenant, k) != v}
    try:
        TenantSettings.model_validate({**tenant.model_dump(), **changes})
    except ValidationError as exc:
        return changes, [_problem(error) for error in exc.errors()]
    return changes, []


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def preview(settings: Settings, tenant: TenantSettings, changes: dict[str, Any]) -> Preview:
    """The dry run of the tenant as it would be with `changes` (validated by wanted_changes).
    When the rename guard would hold the renames back, a second dry run that lets them pass
    lists them, so the administrator sees which renames are waiting behind the guard."""
    changed = tenant.model_copy(update=changes)
    try:
        reader = for_reading(settings.database.url)
    except StopRun as exc:  # an older schema, an unreachable server: said, not a 500
        return Preview("failed", dict.fromkeys(COUNT_KEYS, 0), 0, [], [], [], str(exc))
    try:
        report = run_tenant(settings, changed, reader, RunOptions(dry_run=True))
        renames = _renames(report)
        if any(h["kind"] == GuardKind.RENAME for h in report.held):
            allowed = RunOptions(dry_run=True, allowance=Allowance(kinds=RENAMES))
            renames = _renames(run_tenant(settings, changed, reader, allowed))
    finally:
        reader.dispose()
    conflicts = [
        issue.as_json() for issue in report.issues if issue.reason == IssueReason.NAME_CONFLICT
    ]
    unnamed = [issue.as_json() for issue in report.issues if issue.reason in UNNAMED]
    return Preview(
        str(report.status),
        dict(report.counts),
        len(renames),
        renames[:EXAMPLES],
        conflicts[:EXAMPLES],
        list(report.held),
        report.error,
        unnamed[:EXAMPLES],
    )


def _renames(report: RunReport) -> list[tuple[str, str]]:
    return [
        (str(line.get("old_name")), str(line["name"]))
        for line in report.plan or []
        if "rename" in line["actions"]
    ]
