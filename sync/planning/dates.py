"""Joiners and leavers on their dates (SPEC §16): pure, the plan's time passed in.

A person's start and end dates are calendar days of the tenant's time zone. Before the start
date the account is pending (no sign-in, no reset link); it is invited `invite_days_before_start`
days before the start at 09:00 tenant time; from 00:00 of the start date it is active; from 00:00
of the day after the end date it is disabled, whatever the source says. A leaver whose last day
is 31 March in Asia/Tokyo is therefore disabled from 1 April 00:00 JST (31 March 15:00 UTC).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum

INVITE_TIME = time(9, 0)  # invitations go out in the morning of their day, tenant time
# when a date sweep is due, tenant time: 00:00 (leavers, joiners' first day) and 09:00
# (invitations); as a crontab line for a tenant's own zone (the single-host scheduler)
SWEEP_TIMES = (time(0, 0), INVITE_TIME)
SWEEP_SCHEDULE = "0 0,9 * * *"


class Phase(Enum):
    """Where the plan's day falls against a person's dates."""

    BEFORE = "before"  # before the start date: pending
    DURING = "during"  # employed (or no dates at all)
    AFTER = "after"  # past the end date: disabled


@dataclass(frozen=True, slots=True)
class Calendar:
    """The plan's moment in the tenant's time zone, and how early invitations go out."""

    now: datetime  # aware, in the tenant's zone
    invite_days: int = 0

    @classmethod
    def at(cls, moment: datetime, zone: str, invite_days: int = 0) -> Calendar:
        """`moment` (aware, any zone) seen from the tenant's `zone`."""
        if moment.tzinfo is None:
            raise ValueError("the plan's time must carry its time zone")
        return cls(moment.astimezone(zoneinfo.ZoneInfo(zone)), invite_days)

    @property
    def today(self) -> date:
        return self.now.date()

    def phase(self, start: date | None, end: date | None) -> Phase:
        today = self.today
        if end is not None and today > end:
            return Phase.AFTER
        if start is not None and today < start:
            return Phase.BEFORE
        return Phase.DURING

    def sweep_due(self, window: timedelta) -> bool:
        """Whether a sweep time of the tenant's day fell within the `window` ending now (a
        fleet pass every `window` sweeps each tenant at its own 00:00 and 09:00)."""
        for moment in SWEEP_TIMES:
            at = datetime.combine(self.today, moment, tzinfo=self.now.tzinfo)
            if at <= self.now < at + window:
                return True
        return False

    def invite_due(self, start: date | None) -> bool:
        """Whether a person starting on `start` may be sent their invitation now."""
        if start is None:
            return True
        day = start - timedelta(days=self.invite_days)
        moment = datetime.combine(day, INVITE_TIME, tzinfo=self.now.tzinfo)
        return self.now >= moment
