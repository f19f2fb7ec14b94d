"""A delta read's removals (Page.removed): the planner disables the account of a deleted user."""

from __future__ import annotations

from sync.compose.collisions import NameBook
from sync.compose.rules import NameRule
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import GONE, AccountState, DirectoryUser
from sync.planning.guards import Bound, GuardKind, Limits, guard
from sync.planning.plan import Planner, Policy, profile_of

POLICY = Policy(NameRule.parse("email_local_part", None, DEFAULT_NAME_PATTERN))


def account(number: int, name: str, active: bool) -> AccountState:
    user = DirectoryUser(str(number), active, f"{name}@a.example")
    return AccountState(number, name, name, active, False, profile_of(user).digest())


ACCOUNTS = {"1": account(1, "taro", True), "2": account(2, "hanako", False)}


def planner() -> Planner:
    return Planner(ACCOUNTS, NameBook(held={}, reserved=set()), POLICY)


def test_a_removed_user_with_an_active_account_is_disabled_as_gone() -> None:
    plans = planner()
    plans.remove("1")
    plan = plans.finish(full_read=False)

    [change] = plan.changes
    assert (change.source_id, change.actions, change.name, change.account_id, change.why) == (
        "1",
        frozenset({"disable"}),
        "taro",
        1,
        GONE,
    )
    assert plan.issues == [] and plan.unchanged == 0


def test_a_removed_user_whose_account_is_disabled_stays_as_it_is() -> None:
    plans = planner()
    plans.remove("2")
    plan = plans.finish(full_read=False)

    assert plan.changes == [] and plan.unchanged == 1 and plan.issues == []


def test_a_removed_id_without_an_account_is_ignored() -> None:
    plans = planner()
    plans.remove("99")
    plan = plans.finish(full_read=False)

    assert plan.changes == [] and plan.unchanged == 0 and plan.issues == []


def test_a_removal_is_not_taken_for_absence_on_a_full_read() -> None:
    """A removed id is accounted for: a full read does not disable it a second time."""
    plans = planner()
    plans.remove("1")
    plan = plans.finish(full_read=True)

    assert [(c.source_id, c.actions) for c in plan.changes] == [("1", frozenset({"disable"}))]


def test_an_id_both_returned_and_removed_is_left_alone_and_reported() -> None:
    plans = planner()
    plans.add(DirectoryUser("1", True, "taro@a.example"))
    plans.remove("1")
    plan = plans.finish(full_read=False)

    assert plan.changes == []
    assert [(i.source_id, i.reason) for i in plan.issues] == [("1", "duplicate_source_id")]


def test_a_guard_withholds_the_disable_of_a_removal() -> None:
    plans = planner()
    plans.remove("1")
    full = plans.finish(full_read=False)
    bounds = {kind: Bound(f"max_{kind}", 0, 0) for kind in GuardKind}
    guarded = guard(full, {}, 1, Limits(bounds), forced={GuardKind.DISABLE: "held for the test"})
    plan = guarded.plan

    assert plan.changes == []
