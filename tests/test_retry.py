"""The one retry policy: what it retries, how long it waits, and when it gives up."""

from __future__ import annotations

import re
import time

import pytest

from sync.errors import StopRun, TransientError
from sync.retry import backoff, backoff_seconds, retrying


def flaky(failures: list[BaseException]) -> tuple[list[float], object]:
    calls: list[float] = []

    def call() -> str:
        calls.append(time.monotonic())
        if failures:
            raise failures.pop(0)
        return "done"

    return calls, call


def test_transient_failures_are_retried_until_the_call_succeeds() -> None:
    seen: list[tuple[int, float]] = []
    calls, call = flaky([TransientError("busy"), TransientError("busy")])
    policy = retrying(budget_seconds=5, initial_seconds=0.01, longest_seconds=0.02,
                      on_retry=lambda exc, n, s: seen.append((n, s)))  # fmt: skip
    assert policy(call) == "done"  # type: ignore[arg-type]
    assert len(calls) == 3
    assert [n for n, _ in seen] == [1, 2]
    assert all(0.005 <= s <= 0.02 for _, s in seen)


def test_a_stop_is_not_retried() -> None:
    calls, call = flaky([StopRun("wrong password")])
    with pytest.raises(StopRun, match="wrong password"):
        retrying(budget_seconds=5, initial_seconds=0.01)(call)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_the_server_hint_is_a_floor_on_the_wait() -> None:
    calls, call = flaky([TransientError("slow down", retry_after=0.3)])
    retrying(budget_seconds=5, initial_seconds=0.001, longest_seconds=0.002)(call)  # type: ignore[arg-type]
    assert calls[1] - calls[0] >= 0.3


def test_it_gives_up_within_its_budget_with_the_last_failure() -> None:
    """The waits it starts add up to no more than the budget (what it plans, not a stopwatch on
    this shared machine)."""
    waits: list[float] = []
    calls, call = flaky([TransientError(f"down {i}") for i in range(1000)])
    policy = retrying(budget_seconds=0.5, initial_seconds=0.05, longest_seconds=0.1,
                      on_retry=lambda exc, n, s: waits.append(s))  # fmt: skip
    with pytest.raises(TransientError, match="down"):
        policy(call)  # type: ignore[arg-type]
    assert sum(waits) <= 0.5
    assert len(calls) >= 3 and len(calls) == len(waits) + 1


def test_a_hint_past_the_budget_ends_the_retries_at_once() -> None:
    calls, call = flaky([TransientError("come back in an hour", retry_after=3600)])
    with pytest.raises(TransientError, match="an hour"):
        retrying(budget_seconds=10, initial_seconds=0.01)(call)  # type: ignore[arg-type]
    assert len(calls) == 1


@pytest.mark.parametrize("attempt", [1, 2, 5, 30])
def test_backoff_grows_to_its_cap_with_jitter(attempt: int) -> None:
    ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
    for _ in range(50):
        assert ceiling / 2 <= backoff_seconds(attempt, 2.0, 60.0) <= ceiling
    assert backoff(attempt, 2.0, 60.0, hint=500).total_seconds() == 500


def test_a_wait_that_would_end_past_the_budget_is_not_started() -> None:
    waits: list[float] = []
    calls, call = flaky([TransientError("down")])
    policy = retrying(budget_seconds=1, initial_seconds=4, longest_seconds=4,
                      on_retry=lambda exc, n, s: waits.append(s))  # fmt: skip
    with pytest.raises(TransientError, match="down"):
        policy(call)  # type: ignore[arg-type]
    assert len(calls) == 1 and waits == []


def test_each_retry_is_logged_in_words(caplog: pytest.LogCaptureFixture) -> None:
    _, call = flaky([TransientError("cannot reach x: connection refused")])
    retrying(budget_seconds=5, initial_seconds=0.01, what="LDAP")(call)  # type: ignore[arg-type]
    assert re.fullmatch(
        r"LDAP: cannot reach x: connection refused; trying again in 0\.0 s \(attempt 2\)",
        caplog.records[-1].getMessage(),
    )
