"""sync.sources.smarthr.reader: a large read handed over to a reader process (a real child
interpreter, paging the emulator through requests) reads what the run's own process would, each
page once, in order; what stops the process reaches the read at its page's place, as the
client would have raised it; a process killed mid-read leaves the read incomplete. A run of a
large tenant starts the process before it loads the stored accounts, and stops it whatever
happens next."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.errors import IncompleteRead, SourceUnavailable
from sync.model import PROFILE_ATTRIBUTES
from sync.services import runner
from sync.services.run_state import run_state
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest, ReadResult
from sync.sources.smarthr import reader
from sync.sources.smarthr.reader import ReaderProcess
from sync.sources.smarthr.source import SmartHrSource
from tests.conftest import Workspace
from tests.smarthr.conftest import TOKEN_ENV, smarthr_keys
from tests.smarthr.emulator import TOKEN, SmartHrEmulator, make_crew
from tests.smarthr.test_smarthr_dates import Tenant
from tests.smarthr.test_smarthr_source import read_all, users, with_keys
from tests.support.reading import collect

CREWS = 1_050  # eleven pages
# a run of a tenant whose store already holds its people
KNOWN = ReadRequest(frozenset(PROFILE_ATTRIBUTES), known_users=CREWS)


def read_known(emulator: SmartHrEmulator) -> tuple[list[Page], ReadResult]:
    return read_all(with_keys(emulator), KNOWN)


@pytest.fixture
def large(emulator: SmartHrEmulator, monkeypatch: pytest.MonkeyPatch) -> SmartHrEmulator:
    """The emulator with eleven pages, and reads that hand over at page 2: the process is
    started at page 1 and waited for (in production the read goes on meanwhile)."""
    emulator.crews = [make_crew(n) for n in range(1, CREWS + 1)]
    monkeypatch.setattr(reader, "HAND_OVER_CREWS", 1_000)
    monkeypatch.setattr(reader, "READY_WAIT", 60.0)
    return emulator


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ReaderProcess]]:
    """Every reader process started, to look at or to kill."""
    started: list[ReaderProcess] = []
    original = ReaderProcess.__init__

    def recorded(self: ReaderProcess, *args: object) -> None:
        original(self, *args)  # type: ignore[arg-type]
        started.append(self)

    monkeypatch.setattr(ReaderProcess, "__init__", recorded)
    yield started


def pages_asked(emulator: SmartHrEmulator) -> list[int]:
    return [int(query["page"][0]) for path, query in emulator.requests if "page" in query]


def test_a_handed_over_read_reads_what_one_process_reads_each_page_once(
    large: SmartHrEmulator, monkeypatch: pytest.MonkeyPatch, processes: list[ReaderProcess]
) -> None:
    pages, result = read_known(large)

    assert result.full and result.stats["reader_process_from_page"] == 2
    assert 10 < processes[0].peak_mb < 200  # the process's own, reported with its last page
    assert result.stats["pages"] == 11 and result.stats["crews"] == CREWS
    assert pages_asked(large) == list(range(1, 12))
    assert len(processes) == 1
    # the token went through a pipe, never the command line
    assert TOKEN not in " ".join(map(str, processes[0]._process.args))  # type: ignore[arg-type]
    monkeypatch.setattr(reader, "HAND_OVER_CREWS", 10**9)
    large.requests.clear()
    alone, whole = read_known(large)
    assert "reader_process_from_page" not in whole.stats and len(processes) == 1
    assert users(pages) == users(alone) and len(users(alone)) == CREWS


def test_a_small_read_and_a_first_run_start_no_process(
    emulator: SmartHrEmulator, processes: list[ReaderProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages, result = read_known(emulator)  # seven crews
    assert result.full and len(users(pages)) == 7
    emulator.crews = [make_crew(n) for n in range(1, CREWS + 1)]
    monkeypatch.setattr(reader, "HAND_OVER_CREWS", 1_000)
    pages, result = read_all(with_keys(emulator))  # a store that holds nobody yet
    assert result.full and len(users(pages)) == CREWS
    assert processes == [] and "reader_process_from_page" not in result.stats


def test_maintenance_after_the_hand_over_fails_the_read_at_its_page_with_the_retries_logged(
    large: SmartHrEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    large.script = {n: "503" for n in range(5, 400)}  # page 5 on: maintenance
    with caplog.at_level(logging.WARNING), pytest.raises(IncompleteRead) as stopped:
        read_known(large)
    assert "the read stopped after 400 crews (4 pages)" in str(stopped.value)
    assert "service_maintenance" in str(stopped.value)
    assert "nobody is disabled" in str(stopped.value)
    # the process's retry warnings are logged here
    assert any("trying again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("handed_over", [False, True])
def test_an_answer_that_is_not_a_list_is_tried_again_wherever_the_page_is_fetched(
    large: SmartHrEmulator, monkeypatch: pytest.MonkeyPatch, handed_over: bool
) -> None:
    if not handed_over:
        monkeypatch.setattr(reader, "HAND_OVER_CREWS", 10**9)
    large.garbled = {3: b"<html>proxy error</html>", 6: b'[{"id": "c1"'}  # cut short
    pages, result = read_known(large)
    assert result.full and len(users(pages)) == CREWS
    assert result.stats["retries"] == 2
    assert ("reader_process_from_page" in result.stats) is handed_over


def test_a_list_that_is_not_json_ends_a_handed_over_read_with_nobody_disabled(
    large: SmartHrEmulator,
) -> None:
    large.garbled = {4: b"[{]"}  # looks like a list; only decoding finds it is not JSON
    with pytest.raises(IncompleteRead, match=r"after 300 crews \(3 pages\).*not JSON"):
        read_known(large)


def test_a_token_refused_after_the_hand_over_names_the_key_never_the_token(
    large: SmartHrEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    large.script = {4: "401"}
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as refused:
        read_known(large)
    text = str(refused.value)
    assert "unauthorized_token" in text and f"access_token_env ({TOKEN_ENV})" in text
    assert TOKEN not in text and TOKEN not in caplog.text


def test_a_process_killed_mid_read_leaves_the_read_incomplete(
    large: SmartHrEmulator, processes: list[ReaderProcess]
) -> None:
    def kill_at_page(page: int) -> None:
        if page == 6:  # the process waits for this answer
            os.kill(processes[0]._process.pid, signal.SIGKILL)

    large.after_page = kill_at_page
    with pytest.raises(IncompleteRead, match=r"reader process ended .* nobody is disabled"):
        read_known(large)
    assert processes[0]._process.poll() is not None  # reaped


def test_a_large_tenant_s_run_starts_its_reader_while_its_accounts_load(
    workspace: Workspace,
    large: SmartHrEmulator,
    processes: list[ReaderProcess],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace.tenant.update(source=smarthr_keys(large))
    workspace.configure()
    tenant = Tenant(workspace)
    first = tenant.run(datetime.now(UTC))  # a first run reads in its own process
    assert first.status == "succeeded" and first.counts["created"] == CREWS
    assert processes == []
    started_before_load: list[int] = []

    def counted_load(*args: Any) -> Any:
        started_before_load.append(len(processes))
        return run_state(*args)

    monkeypatch.setattr(runner, "run_state", counted_load)
    with caplog.at_level(logging.INFO, logger="sync.sources.smarthr"):
        again = tenant.run(datetime.now(UTC))

    assert again.status == "succeeded" and again.counts["unchanged"] == CREWS
    assert started_before_load == [1] and len(processes) == 1
    assert "pages 1 to 11 came from the reader process" in caplog.text


def test_a_run_that_ends_before_its_read_stops_the_reader_it_started(
    workspace: Workspace,
    large: SmartHrEmulator,
    processes: list[ReaderProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace.tenant.update(source=smarthr_keys(large))
    workspace.configure()
    tenant = Tenant(workspace)
    assert tenant.run(datetime.now(UTC)).status == "succeeded"

    def broken_load(*args: Any) -> Any:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(runner, "run_state", broken_load)
    failed = tenant.run(datetime.now(UTC))

    assert failed.status == "failed" and "the store went away" in (failed.error or "")
    assert len(processes) == 1 and processes[0]._process.poll() is not None  # stopped, reaped


@pytest.mark.parametrize("fault", ["401", "503"])
def test_a_prepared_read_fails_at_its_first_page_as_a_read_in_one_process_does(
    large: SmartHrEmulator, processes: list[ReaderProcess], fault: str
) -> None:
    large.script = {n: fault for n in range(1, 400)}
    source = open_source(with_keys(large))
    assert isinstance(source, SmartHrSource)
    source.prepare(CREWS)  # started before the read, fetching from the first page at once
    try:
        with pytest.raises(SourceUnavailable) as failed:
            collect(source.read(KNOWN))
    finally:
        source.close()
    text = str(failed.value)
    expected = "unauthorized_token" if fault == "401" else "service_maintenance"
    assert expected in text and TOKEN not in text
    assert len(processes) == 1 and processes[0]._process.poll() is not None
