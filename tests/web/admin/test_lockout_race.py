"""The per-name lockout counts a try before its answer is checked (SPEC §19: attempts limited per
account, in the store), so parallel guesses cannot all pass the check before any is counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync.services.console_auth import SignInLimited, SignInLimits
from sync.services.storage import migrate
from sync.store.engine import open_store
from sync.timeutil import utc_now

GUESSES = 12
LOCKOUT = 5


@pytest.fixture
def limits(database_url: str) -> Iterator[SignInLimits]:
    migrate(database_url)
    engine = open_store(database_url)
    yield SignInLimits(engine, "100/minute", f"{LOCKOUT}/15 minutes")
    engine.dispose()


def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_the_lockout(
    limits: SignInLimits,
) -> None:
    now, start = utc_now(), threading.Barrier(GUESSES)

    def guess(_: int) -> str:
        start.wait()  # every guess asks at once
        try:
            limits.begin_try("acme/user1", now)
        except SignInLimited:
            return "locked"
        return "tried"

    with ThreadPoolExecutor(GUESSES) as pool:
        outcomes = list(pool.map(guess, range(GUESSES)))
    assert outcomes.count("tried") == LOCKOUT, outcomes


def test_a_right_answer_is_not_counted_as_a_failure(limits: SignInLimits) -> None:
    now = utc_now()
    for _ in range(LOCKOUT - 1):
        limits.begin_try("acme/user1", now)  # wrong answers: they stay counted
    limits.passed(limits.begin_try("acme/user1", now))
    limits.begin_try("acme/user1", now)  # the fifth failure is still allowed
    with pytest.raises(SignInLimited) as refused:
        limits.begin_try("acme/user1", now)
    assert refused.value.retry_after > 0
