"""Invariants of a whole plan: stable on a second run, independent of input order (SPEC §4, §5)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.compose.collisions import NameBook
from sync.compose.normalize import name_key
from sync.compose.rules import NameRule
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import AccountState, Action, DirectoryUser, Plan
from sync.planning.plan import Policy, make_plan

POLICY = Policy(NameRule.parse("email_local_part", None, DEFAULT_NAME_PATTERN))
emails = st.sampled_from(
    [
        "taro@a.example",
        "Taro@b.example",
        "taro-2@a.example",
        "hanako@a.example",
        "admin@a.example",
        "",
        "bad name@a.example",
    ]
)
users_strategy = st.lists(
    st.builds(
        lambda sid, email, active: DirectoryUser(sid, active, email or None),
        st.text("0123456789", min_size=1, max_size=4),
        emails,
        st.booleans(),
    ),
    max_size=20,
    unique_by=lambda u: u.source_id,
)


def store_after(plan: Plan, before: dict[str, AccountState]) -> dict[str, AccountState]:
    """The accounts as the apply step leaves them."""
    after = dict(before)
    for number, change in enumerate(plan.changes):
        old = after.get(change.source_id)
        after[change.source_id] = AccountState(
            old.id if old else 1000 + number,
            change.name,
            change.composed_name or (old.composed_name if old else None),
            "disable" not in change.actions,
            False,
            change.profile.digest() if change.profile else (old.profile_digest if old else ""),
        )
    return after


def book_of(states: dict[str, AccountState]) -> NameBook:
    held = {name_key(s.name): (sid, s.name) for sid, s in states.items()}
    return NameBook(held=held, reserved={"admin"})


@settings(max_examples=200, deadline=None)
@given(users_strategy, st.randoms())
def test_second_run_changes_nothing_and_order_does_not_matter(
    users: list[DirectoryUser], rnd: random.Random
) -> None:
    first = make_plan(users, {}, book_of({}), POLICY, full_read=True)
    shuffled = users[:]
    rnd.shuffle(shuffled)
    again = make_plan(shuffled, {}, book_of({}), POLICY, full_read=True)
    assert again.changes == first.changes
    assert sorted(again.issues, key=repr) == sorted(first.issues, key=repr)

    names = [c.name for c in first.changes]
    assert len({name_key(n) for n in names}) == len(names)

    states = store_after(first, {})
    second = make_plan(users, states, book_of(states), POLICY, full_read=True)
    assert [c for c in second.changes if c.actions] == []
    assert second.count(Action("rename")) == 0
