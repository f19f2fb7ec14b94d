"""The one retry policy (STYLE.md 6): exponential back-off with jitter, within a time budget,
never sooner than the server's Retry-After hint. Every source and the mail delivery use it.

`retrying(...)` retries a call now (a source's request); `backoff(...)` is the wait before a later
attempt that is stored rather than slept (a queued email).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay

from sync.errors import TransientError

log = logging.getLogger(__name__)

# Called before each sleep with the failure, the number of the attempt that failed and the sleep.
OnRetry = Callable[[BaseException, int, float], None]


def backoff_seconds(attempt: int, initial: float, longest: float) -> float:
    """The wait after failed attempt number `attempt` (1-based): `initial · 2^(attempt-1)`, capped
    at `longest`, with full jitter over its upper half so that many clients spread out."""
    ceiling = min(longest, initial * 2.0 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def backoff(attempt: int, initial: float, longest: float, hint: float = 0) -> timedelta:
    """`backoff_seconds`, never shorter than a server's hint, as a timedelta."""
    return timedelta(seconds=max(backoff_seconds(attempt, initial, longest), hint))


def hint_of(failure: BaseException | None) -> float:
    """The Retry-After a failure carries (TransientError.retry_after), or 0."""
    return float(getattr(failure, "retry_after", 0) or 0)


def retrying(
    *,
    budget_seconds: float,
    initial_seconds: float = 1.0,
    longest_seconds: float = 64.0,
    on_retry: OnRetry | None = None,
    what: str = "request",
    retry_on: tuple[type[BaseException], ...] = (TransientError,),
) -> Retrying:
    """A tenacity `Retrying` that retries `retry_on` failures until `budget_seconds` have passed
    since the first attempt, then re-raises the last failure. A wait that would end past the
    budget is not started: the caller fails within its budget plus one attempt's own time."""

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        return max(
            backoff_seconds(state.attempt_number, initial_seconds, longest_seconds),
            hint_of(failure),
        )

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        sleep = state.upcoming_sleep
        if on_retry is not None and failure is not None:
            on_retry(failure, state.attempt_number, sleep)
        log.warning("%s: %s; trying again in %.1f s (attempt %d)", what, failure, sleep,
                    state.attempt_number + 1)  # fmt: skip

    def stop(state: RetryCallState) -> bool:
        # tenacity has chosen the coming wait (upcoming_sleep, never below a server's hint)
        # before it asks whether to stop: a wait that would end past the budget is not started
        elapsed = state.seconds_since_start or 0.0
        return (
            stop_after_delay(budget_seconds)(state)
            or elapsed + state.upcoming_sleep > budget_seconds
        )

    return Retrying(
        retry=retry_if_exception_type(retry_on),
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )
