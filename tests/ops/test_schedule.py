"""Crontab expressions mean what cron means, including where APScheduler 3 differs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.config.settings import load_settings
from sync.errors import ConfigError
from sync.planning.schedule import cron_weekdays, latest_tick, schedule_trigger
from tests.ops.conftest import configure, small_directory, tenant

# Monday 2 March 2026, 00:00 UTC
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def fire_times(expression: str, zone: str = "UTC", count: int = 6) -> list[datetime]:
    trigger = schedule_trigger(expression, zone)
    times: list[datetime] = []
    previous = None
    now = MONDAY
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)
    return times


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("MON-FRI", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1/3", "mon,thu"),
        ("0,6", "sun,sat"),
        ("sat,sun", "sun,sat"),
    ],
)
def test_weekday_numbers_count_from_sunday_as_in_cron(field: str, days: str) -> None:
    assert cron_weekdays(field) == days


@pytest.mark.parametrize("field", ["8", "fri-mon", "mon/x", "*/0", "someday"])
def test_impossible_weekdays_are_refused(field: str) -> None:
    with pytest.raises(ValueError):
        cron_weekdays(field)


def test_weekdays_only_fire_monday_to_friday() -> None:
    fires = fire_times("30 9 * * 1-5", count=10)
    assert {f.isoweekday() for f in fires} == {1, 2, 3, 4, 5}
    assert all((f.hour, f.minute, f.second) == (9, 30, 0) for f in fires)


def test_sunday_is_0_and_7() -> None:
    assert fire_times("0 12 * * 0", count=1) == fire_times("0 12 * * 7", count=1)
    assert fire_times("0 12 * * 0", count=1)[0].isoweekday() == 7


def test_day_of_month_or_weekday_fires_on_either_as_cron_does() -> None:
    """`0 0 13 * 5`: every 13th and every Friday (crontab(5)), not only Friday the 13th."""
    fires = fire_times("0 0 13 * 5", count=8)
    assert all(f.day == 13 or f.isoweekday() == 5 for f in fires)
    assert any(f.day == 13 and f.isoweekday() != 5 for f in fires)
    assert any(f.day != 13 for f in fires)


def test_the_schedule_runs_in_the_tenants_time_zone() -> None:
    fire = fire_times("0 9 * * *", "Asia/Tokyo", count=1)[0]
    assert fire.utcoffset() == timedelta(hours=9)
    assert fire.astimezone(UTC).hour == 0


def test_six_fields_put_seconds_first() -> None:
    fires = fire_times("*/15 * * * * *", count=5)
    assert [f.second for f in fires] == [0, 15, 30, 45, 0]
    assert fires[-1] - fires[0] == timedelta(minutes=1)


@pytest.mark.parametrize(
    "expression", ["* * * *", "* * * * * * *", "61 * * * *", "* 25 * * *", "* * 0 * *"]
)
def test_bad_schedules_are_configuration_errors(tmp_path: Path, expression: str) -> None:
    config = configure(
        tmp_path,
        "sqlite:///x.db",
        [tenant("acme", small_directory(tmp_path / "u.csv"), schedule=expression)],
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert any("tenants[acme].schedule" in p for p in caught.value.problems), caught.value


def test_the_tick_is_the_newest_firing_at_or_before_now() -> None:
    trigger = schedule_trigger("*/5 * * * *", "UTC")
    now = datetime(2026, 3, 2, 10, 7, 42, 123, tzinfo=UTC)
    assert latest_tick(trigger, now, timedelta(minutes=30)) == datetime(
        2026, 3, 2, 10, 5, tzinfo=UTC
    )
    exact = datetime(2026, 3, 2, 10, 10, tzinfo=UTC)
    assert latest_tick(trigger, exact, timedelta(minutes=30)) == exact


@pytest.mark.parametrize(
    ("ours", "procrastinate"),
    [
        ("* * * * *", "* * * * *"),
        ("*/2 * * * * *", "* * * * * */2"),
        ("30 0 3 * * mon", "0 3 * * mon 30"),
    ],
)
def test_the_fleet_takes_the_one_dialect_and_hands_procrastinate_its_own(
    ours: str, procrastinate: str
) -> None:
    """SPEC §14: one cron dialect. Our sixth field (seconds) comes first, as in tenants'
    schedules; Procrastinate's croniter wants it last."""
    from sync.config.settings import FleetSettings
    from sync.planning.schedule import periodic_cron

    assert FleetSettings(dispatch_cron=ours).dispatch_cron == ours
    assert periodic_cron(ours) == procrastinate


def test_a_fleet_cron_that_is_not_one_is_refused() -> None:
    from pydantic import ValidationError

    from sync.config.settings import FleetSettings

    with pytest.raises(ValidationError, match="not a crontab expression"):
        FleetSettings(dispatch_cron="every minute")
