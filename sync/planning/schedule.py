"""A tenant's `schedule`: a crontab expression with cron's own meaning, as APScheduler triggers.

Five fields are standard crontab (minute hour day month weekday). Six fields put seconds first
(as Quartz and Spring do) for schedules finer than a minute. Every cron setting takes this one
dialect: tenants' `schedule` and the fleet's `dispatch_cron` alike (`periodic_cron` hands the
latter to Procrastinate, which wants seconds last).

Two places where APScheduler 3's CronTrigger differs from cron, corrected here:
- weekday numbers: cron counts 0 (or 7) as Sunday, APScheduler 3 counts 0 as Monday
  (https://github.com/agronholm/apscheduler/issues/286), so weekdays are passed by name;
- day of month and weekday both restricted: cron fires when EITHER matches
  (crontab(5), "Note: The day of a command's execution can be specified by two fields"),
  APScheduler when both do, so such a schedule is an OrTrigger of the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def schedule_trigger(expression: str, timezone: str, jitter: float | None = None) -> BaseTrigger:
    """The trigger for a 5- or 6-field crontab expression; ValueError says what is wrong."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(
            f"{expression!r} is not a crontab expression of five fields (or six, seconds first)"
        )
    second, minute, hour, day, month, weekday = fields
    zone = ZoneInfo(timezone)
    common = {"second": second, "minute": minute, "hour": hour, "month": month}
    try:
        days = cron_weekdays(weekday)
        if day.startswith("*") or weekday.startswith("*"):
            # one of them is unrestricted: cron and APScheduler agree on "both must match"
            return CronTrigger(**common, day=day, day_of_week=days, timezone=zone, jitter=jitter)
        by_day = CronTrigger(**common, day=day, timezone=zone)
        by_weekday = CronTrigger(**common, day_of_week=days, timezone=zone)
    except ValueError as exc:
        raise ValueError(f"{expression!r}: {exc}") from None
    return OrTrigger([by_day, by_weekday], jitter=int(jitter) if jitter else None)


def periodic_cron(expression: str) -> str:
    """The same expression for Procrastinate's periodic tasks, whose croniter puts an optional
    sixth field for seconds LAST: every setting of ours puts it first (one dialect, SPEC §14).
    Weekday numbers mean the same in both (0 and 7 Sunday)."""
    fields = expression.split()
    return " ".join([*fields[1:], fields[0]]) if len(fields) == 6 else expression


def cron_weekdays(field: str) -> str:
    """A cron weekday field (numbers 0-7, names, ranges, steps, lists) as APScheduler day names."""
    if field == "*":
        return "*"
    chosen: set[int] = set()
    for part in field.split(","):
        chosen.update(_weekday_part(part))
    return ",".join(WEEKDAYS[d] for d in sorted(chosen))


def _weekday_part(part: str) -> range | list[int]:
    span, _, step_text = part.partition("/")
    if step_text and not step_text.isdigit():
        raise ValueError(f"weekday step {step_text!r} is not a number")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError("a weekday step must be at least 1")
    if span == "*":
        first, last = 0, 6
    elif "-" in span:
        low, high = span.split("-", 1)
        first, last = _weekday(low), _weekday(high, upper=True)
    else:
        first = last = _weekday(span)
        if step_text:  # cron reads `1/2` as `1-7/2`
            last = 6
    if first > last:
        raise ValueError(f"weekday range {span!r} runs backwards")
    return sorted({d % 7 for d in range(first, last + 1, step)})


def _weekday(text: str, upper: bool = False) -> int:
    name = text.strip().lower()
    if name in WEEKDAYS:
        return WEEKDAYS.index(name)
    if name.isdigit() and 0 <= int(name) <= 7:
        # 7 is Sunday too; kept as 7 at the top of a range so `5-7` means fri, sat, sun
        return int(name) if upper or int(name) != 7 else 0
    raise ValueError(f"{text!r} is not a weekday (0-7 or sun-sat)")


def latest_tick(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime:
    """The newest time at or before `now` that the (unjittered) trigger fires: the tick a job that
    started at `now` belongs to. Every scheduler computes the same tick for the same firing."""
    tick = None
    candidate = trigger.get_next_fire_time(None, now - lookback)
    while candidate is not None and candidate <= now:
        tick = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
    return tick if tick is not None else now.replace(microsecond=0)
