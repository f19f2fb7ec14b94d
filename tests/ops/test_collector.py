"""sync.ops.collector: the collector's thresholds are raised while runs are under way, and put
back when the last one ends, however it ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from sync.model.report import RunReport
from sync.ops.collector import RUN_THRESHOLDS, run_thresholds
from sync.services import runner
from sync.timeutil import utc_now

ORIGINAL = (701, 11, 12)  # not the default, so that putting back the default is caught


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*ORIGINAL)
    yield
    gc.set_threshold(*before)


def test_a_run_raises_them_and_puts_them_back_even_when_it_fails() -> None:
    with run_thresholds():
        assert gc.get_threshold() == RUN_THRESHOLDS
    assert gc.get_threshold() == ORIGINAL
    with pytest.raises(RuntimeError), run_thresholds():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == ORIGINAL


def test_runs_that_overlap_keep_them_raised_until_the_last_ends() -> None:
    first, second = run_thresholds(), run_thresholds()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first
    assert gc.get_threshold() == RUN_THRESHOLDS
    second.__exit__(None, None, None)
    assert gc.get_threshold() == ORIGINAL


def test_a_tenant_run_plans_and_commits_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(runner, "_run", lambda *args: seen.append(gc.get_threshold()))
    report = RunReport("acme", "run-1", utc_now(), "csv", dry_run=True)
    nothing: Any = None
    runner._guarded_run(nothing, nothing, nothing, runner.RunOptions(dry_run=True), report)
    assert seen == [RUN_THRESHOLDS] and gc.get_threshold() == ORIGINAL
