"""What `explain` says of one person (SPEC §18), in the words of the decisions: the planner
calls these where it decides (sync.plan, for watched people only), and the run adds what the
guards and the mail made of the person's change (`after_plan`). Pure."""

from __future__ import annotations

from sync.compose.collisions import Assigned, Conflict
from sync.model import AccountState, DirectoryUser
from sync.model.grants import Grant, RoleChange


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
