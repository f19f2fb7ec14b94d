"""SPEC §16's dates in the plan (pure): pending before the start date, invited on the invitation
day at 09:00 tenant time, active on the start date, disabled from 00:00 after the end date; the
stored dates act on accounts the read did not return (the date sweep)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from sync.compose.collisions import NameBook
from sync.compose.rules import NameRule
from sync.config.settings import DEFAULT_NAME_PATTERN
from sync.model import ENDED, AccountState, Action, Change, Dates, DirectoryUser, Profile
from sync.planning.dates import Calendar, Phase
from sync.planning.plan import Planner, Policy, profile_of

RULE = NameRule.parse("email_local_part", None, DEFAULT_NAME_PATTERN)
START = date(2026, 4, 10)


def policy(at: datetime, invite_days: int = 0) -> Policy:
    return Policy(RULE, calendar=Calendar.at(at, "Asia/Tokyo", invite_days))


def jst(day: date, hour: int = 12) -> datetime:
    """`hour` o'clock of `day` in Tokyo (UTC+9), as UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour - 9)


def user(**fields: object) -> DirectoryUser:
    return DirectoryUser("1", primary_email="taro@a.example", display_name="Taro", **fields)  # type: ignore[arg-type]


def plan_one(person: DirectoryUser, at: datetime, accounts: dict[str, AccountState] | None = None,
             invite_days: int = 0, full: bool = True) -> list[Change]:  # fmt: skip
    planner = Planner(accounts or {}, NameBook(held={}, reserved=set()), policy(at, invite_days))
    planner.add(person)
    return planner.finish(full_read=full).changes


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (jst(date(2026, 3, 31), 23), Phase.DURING),  # the last day, 23:00 JST
        (jst(date(2026, 4, 1), 0), Phase.AFTER),  # 1 April 00:00 JST = 31 March 15:00 UTC
    ],
)
def test_a_leaver_on_31_march_in_tokyo_is_disabled_from_1_april_midnight(
    moment: datetime, phase: Phase
) -> None:
    calendar = Calendar.at(moment, "Asia/Tokyo")
    assert calendar.phase(None, date(2026, 3, 31)) is phase
    assert jst(date(2026, 4, 1), 0) == datetime(2026, 3, 31, 15, tzinfo=UTC)


def test_a_joiner_ten_days_ahead_gets_a_pending_account_without_an_invitation() -> None:
    [change] = plan_one(user(start_date=START), jst(date(2026, 3, 31)))
    assert change.actions == {Action.CREATE}
    assert change.status == ("", "pending") and change.invite_later
    assert change.dates == (Dates(), Dates(START, None))


@pytest.mark.parametrize(("hour", "invited"), [(8, False), (9, True)])
def test_the_invitation_is_due_at_nine_on_its_day(hour: int, invited: bool) -> None:
    [change] = plan_one(user(start_date=START), jst(date(2026, 4, 7), hour), invite_days=3)
    assert change.status == ("", "pending")
    assert change.invite_later is not invited


def stored(active: bool = False, **fields: object) -> AccountState:
    digest = profile_of(user()).digest()
    return AccountState(7, "taro", "taro", active, False, digest, **fields)  # type: ignore[arg-type]


PENDING = stored(pending=True, dates=Dates(START, None),
                 invite_profile=Profile(primary_email="taro@a.example"))  # fmt: skip


def test_a_pending_account_becomes_active_on_its_start_date_and_is_invited() -> None:
    [change] = plan_one(user(start_date=START), jst(START, 9), {"1": PENDING})
    assert change.actions == {Action.ENABLE}
    assert change.status == ("pending", "active") and change.invite


def test_the_sweep_activates_invites_and_disables_by_stored_dates_alone() -> None:
    ended = replace(PENDING, active=True, pending=False, dates=Dates(None, date(2026, 3, 31)))
    accounts = {"1": PENDING, "2": ended}
    planner = Planner(accounts, NameBook(held={}, reserved=set()), policy(jst(START, 10)))
    joiner, leaver = planner.finish(full_read=False).changes
    assert (joiner.actions, joiner.invite) == (frozenset({Action.ENABLE}), True)
    assert (leaver.actions, leaver.why, leaver.status) == (frozenset({Action.DISABLE}), ENDED, None)


def test_a_listed_person_past_the_end_date_is_disabled_though_active_in_the_source() -> None:
    working = stored(active=True)
    [change] = plan_one(user(end_date=date(2026, 3, 31)), jst(date(2026, 4, 1), 0),
                        {"1": working})  # fmt: skip
    assert change.actions == {Action.DISABLE, Action.UPDATE} and change.why == ENDED


def test_nobody_past_the_end_date_gets_a_new_account() -> None:
    assert plan_one(user(end_date=date(2026, 3, 31)), jst(date(2026, 4, 2))) == []


def test_a_later_start_date_never_locks_out_someone_already_working() -> None:
    working = stored(active=True, dates=Dates(date(2026, 3, 1), None))
    [change] = plan_one(user(start_date=START), jst(date(2026, 4, 1)), {"1": working})
    assert change.actions == {Action.UPDATE} and change.status is None


@pytest.mark.parametrize(
    ("hour", "minute", "due"),
    [(0, 0, True), (0, 14, True), (0, 15, False), (8, 59, False), (9, 0, True), (12, 0, False)],
)
def test_a_sweep_is_due_at_midnight_and_nine_tenant_time(hour: int, minute: int, due: bool) -> None:
    moment = jst(date(2026, 4, 1), hour) + timedelta(minutes=minute)
    assert Calendar.at(moment, "Asia/Tokyo").sweep_due(timedelta(minutes=15)) is due
