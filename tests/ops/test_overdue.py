"""SPEC §15: a tenant is overdue two of its ticks plus the run time limit after its last run
ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.planning.overdue import overdue_at

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("schedule", "timezone", "since", "expected"),
    [
        # every 30 minutes: ticks at 09:30 and 10:00, then an hour's time limit
        ("*/30 * * * *", "UTC", datetime(2026, 12, 7, 9, 10, tzinfo=UTC),
         datetime(2026, 12, 7, 11, 0, tzinfo=UTC)),
        # a run that ended on a tick counts that tick as its own: the next two follow it
        ("*/30 * * * *", "UTC", datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
         datetime(2026, 12, 7, 11, 0, tzinfo=UTC)),
        # daily at 03:00 in Tokyo (18:00 UTC): two days' ticks, then the limit
        ("0 3 * * *", "Asia/Tokyo", datetime(2026, 12, 7, 19, 0, tzinfo=UTC),
         datetime(2026, 12, 9, 19, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_two_ticks_and_the_time_limit(
    schedule: str, timezone: str, since: datetime, expected: datetime
) -> None:
    assert overdue_at(schedule, timezone, since, HOUR) == expected
