"""A person whose directory entry changes nothing (sync.planning.plan, the planner's quick way for
most people on most runs): nothing is planned for them, unless their account is still owed
something the entry does not show, an invitation (SPEC §10) or a privilege (SPEC §13)."""

from __future__ import annotations

from dataclasses import replace

from sync.compose.collisions import NameBook
from sync.compose.rules import NameRule
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import AccountState, Action, DirectoryUser, Plan
from sync.model.grants import Grant
from sync.planning.groups import rules_from
from sync.planning.plan import Planner, Policy, profile_of

RULE = NameRule.parse("email_local_part", None, DEFAULT_NAME_PATTERN)
PASSWORDS = Policy(RULE)  # a password tenant: accounts are invited
SSO = Policy(RULE, needs_reset_email=False)
TARO = DirectoryUser("1", True, "taro@a.example", groups=frozenset({"sales"}))
# as the store holds it after earlier runs: invited, its profile as the directory's
SETTLED = AccountState(1, "taro", "taro", True, False, profile_of(TARO).digest(), invited=True)


def plan_of(account: AccountState, policy: Policy = PASSWORDS, user: DirectoryUser = TARO) -> Plan:
    planner = Planner({"1": account}, NameBook(held={}, reserved=set()), policy)
    planner.add(user)
    return planner.finish(full_read=True)


def test_a_settled_account_whose_entry_changed_nothing_plans_nothing() -> None:
    plan = plan_of(SETTLED)
    assert (plan.changes, plan.issues, plan.unchanged) == ([], [], 1)


def test_an_account_never_invited_is_invited_though_its_entry_changed_nothing() -> None:
    plan = plan_of(replace(SETTLED, invited=False))
    [change] = plan.changes
    assert (change.actions, change.invite, change.account_id) == (frozenset(), True, 1)
    assert change.profile is not None and change.profile.primary_email == "taro@a.example"
    assert plan.unchanged == 1  # nothing about the account itself changes


def test_no_invitation_where_a_password_was_set_or_the_tenant_signs_in_elsewhere() -> None:
    assert plan_of(replace(SETTLED, invited=False, password_set=True)).changes == []
    assert plan_of(replace(SETTLED, invited=False), SSO).changes == []


def test_an_invitation_that_failed_to_this_address_is_an_issue_not_a_second_try() -> None:
    plan = plan_of(replace(SETTLED, invited=False, invite_failed_to="taro@a.example"))
    assert plan.changes == []
    [issue] = plan.issues
    assert issue.reason == "missing_email" and "could not be delivered" in issue.detail


def test_a_privilege_the_group_rules_give_is_planned_though_the_entry_changed_nothing() -> None:
    roles = replace(PASSWORDS, groups=rules_from(None, [("sales", "admin", None)]))
    plan = plan_of(SETTLED, roles)
    [change] = plan.changes
    assert change.actions == frozenset({Action.UPDATE})
    assert change.grant is not None and change.grant.after == Grant("admin", None, "sales")


def test_a_changed_entry_is_still_updated() -> None:
    moved = replace(TARO, display_name="山田 太郎")
    [change] = plan_of(SETTLED, user=moved).changes
    assert change.actions == frozenset({Action.UPDATE})
    assert change.profile is not None and change.profile.display_name == "山田 太郎"
