"""What `explain` says of one person (SPEC §18), in the words of the decisions: the planner calls
these where it decides (sync.planning.plan, for watched people only), and the run adds what the
guards and the mail made of the person's change (`after_plan`). Pure."""

from __future__ import annotations

from typing import Any

from sync.compose.collisions import Assigned, Conflict
from sync.model import AccountState, Action, Change, DirectoryUser, IssueReason, Plan, UserIssue
from sync.model.grants import Grant, RoleChange
from sync.model.trace import Step, StepKind
from sync.planning.guards import Held


def as_read(user: DirectoryUser) -> str:
    fields = [f"active={user.active}"]
    for name in ("primary_email", "emails", "employee_code", "given_name", "family_name",
                 "display_name", "google_workspace_email", "salesforce_account"):  # fmt: skip
        value = getattr(user, name)
        if value:
            fields.append(f"{name}={value!r}")
    fields += [f"{key}={value!r}" for key, value in user.extra]
    if user.groups:
        fields.append(f"groups={sorted(user.groups)!r}")
    fields += [f"{label}={value!r}" for label, value in user.locator]
    return f"source id {user.source_id!r}: " + ", ".join(fields)


def scope_text(scope: frozenset[str] | None, groups: frozenset[str]) -> str:
    if scope is None:
        return "no group scope: everyone is in scope"
    matched = sorted(scope & groups)
    if matched:
        return f"in scope: member of {', '.join(matched)}"
    return f"out of scope: a member of none of {', '.join(sorted(scope))}"


def role_text(wanted: Grant, stored_key: str, change: RoleChange | None) -> str:
    by = f"from group {wanted.group}" if wanted.group else "no role rule's group matched"
    said = f"role {wanted.role}" + (f" (scheme {wanted.scheme})" if wanted.scheme else "")
    if change is not None:
        return f"{said}, {by}; stored was {change.before.role}: it changes"
    stored, by_hand = Grant.of_key(stored_key)
    if by_hand:
        return f"{said}, {by}; {stored.role} set by hand is kept (same matched group)"
    return f"{said}, {by}; unchanged"


def kept_text(account: AccountState, composed: str) -> str:
    if account.name_locked:
        return f"the account's name {account.name!r} is locked: kept"
    return f"keeps its name {account.name!r} (the rule gives {composed!r})"


def claim_text(base: str, decision: Assigned | Conflict, account: AccountState | None) -> str:
    what = "a new account" if account is None else f"a rename of {account.name!r}"
    if isinstance(decision, Conflict):
        return f"{base!r} for {what} is taken by {decision.holder}: name_conflict"
    if decision.blocker is not None:
        return f"{base!r} is taken by {decision.blocker}: suffixed to {decision.name!r}"
    return f"{base!r} is free: {what} takes it"


def gone_text(account: AccountState | None, why: str) -> str:
    if account is None:
        return f"{why}, no account: nothing to do"
    if account.active:
        return f"{why}: the account {account.name!r} is disabled"
    return f"{why}: the account {account.name!r} is already disabled"


# the order actions are told in: a rename and an update read "update+rename" in every report
_ORDER = tuple(Action)


def explained(
    steps: list[Step],
    source_id: str,
    plan: Plan,
    held: list[Held],
    has_account: bool,
    emails: list[str],
) -> dict[str, Any]:
    """The person's steps with what the guards held back, the action left, and the emails."""
    told = list(steps)
    for kind in held:
        if any(change.source_id == source_id for change in kind.changes):
            told.append(Step(StepKind.GUARD, f"held back by the {kind.kind} guard: {kind.reason}"))
    change = next((c for c in plan.changes if c.source_id == source_id), None)
    issues = [i for i in plan.issues if i.source_id == source_id]
    action = action_of(change, issues, has_account)
    told.append(Step(StepKind.ACTION, f"the run's action: {action}"))
    told += [Step(StepKind.EMAIL, f"queues {email}") for email in emails]
    return {
        "source_id": source_id,
        "steps": [step.as_json() for step in told],
        "action": action,
        "issues": [issue.as_json() for issue in issues],
        "emails": emails,
    }


def action_of(change: Change | None, issues: list[UserIssue], has_account: bool) -> str:
    """create, update, rename, disable, enable (joined by "+"), else issue, unchanged, or none
    (no account, and none made)."""
    if change is not None and change.actions:
        return "+".join(action for action in _ORDER if action in change.actions)
    if any(issue.reason != IssueReason.MISSING_EMAIL for issue in issues):
        return "issue"
    return "unchanged" if has_account else "none"
