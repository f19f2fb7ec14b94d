"""A small read runs in the run's own process (sync.sources.ldap.reader.InlineReader), a large or
first one in the reader process: both give the same users, membership, results and errors."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from typing import Any

import pytest

from sync.errors import IncompleteRead
from sync.sources.base import ReadRequest
from sync.sources.ldap.source import INLINE_BELOW
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.ldap.test_ldap_groups import OTHER_ASKED, STAFF_ASKED, directory
from tests.support import slapd as S
from tests.support.reading import Collected, collect, request

IN_PROCESS = 50  # accounts the store knows: below INLINE_BELOW
FIRST_READ = 0  # nobody known yet: the reader process


class Spawns:
    """Counts the reader processes started (the real Popen still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = subprocess.Popen

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(subprocess, "Popen", counted)


def shape(read: Collected) -> tuple[Any, ...]:
    users = sorted((u.source_id, u.primary_email, tuple(sorted(u.groups))) for u in read.users)
    assert read.result is not None
    return users, read.result.full, len(read.pages)


def test_a_small_tenants_read_runs_in_process_and_reads_the_same(
    make_slapd: MakeSlapd, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert FIRST_READ < IN_PROCESS < INLINE_BELOW
    server = make_slapd([*directory(), *S.people(60, start=7)])
    spawns = Spawns(monkeypatch)  # from here: slapd is started with Popen too
    source = make_source(server, page_size=20)
    asked = replace(request("primary_email"), groups=frozenset({STAFF_ASKED, OTHER_ASKED}))

    by_process = collect(source.read(replace(asked, known_users=FIRST_READ)))
    assert spawns.count == 1
    in_process = collect(source.read(replace(asked, known_users=IN_PROCESS)))
    assert spawns.count == 1, "a small tenant's read started a process"

    assert shape(in_process) == shape(by_process)
    assert len(in_process.users) == 66 and any(u.groups for u in in_process.users)


def test_a_delta_read_runs_in_process(
    make_slapd: MakeSlapd, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_slapd(S.people(5))
    spawns = Spawns(monkeypatch)
    source = make_source(server)
    first = collect(source.read(request("primary_email")))
    assert first.result is not None and first.result.watermark
    delta = collect(source.read(request("primary_email", since=first.result.watermark)))
    assert spawns.count == 1 and delta.result is not None and not delta.result.full


@pytest.mark.parametrize("known_users", [FIRST_READ, IN_PROCESS])
def test_an_incomplete_read_fails_alike_in_either_place(
    make_slapd: MakeSlapd, make_source: MakeSource, known_users: int
) -> None:
    server = make_slapd(S.people(120), database_lines=(f'limits dn.exact="{S.SYNC_DN}" size=50',))
    wanted: ReadRequest = replace(request("primary_email"), known_users=known_users)
    with pytest.raises(IncompleteRead, match=r"sizeLimitExceeded.*nobody is disabled"):
        collect(make_source(server, page_size=20).read(wanted))
