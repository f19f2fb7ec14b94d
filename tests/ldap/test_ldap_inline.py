"""With ldap3, a read starts in the run's own process and moves to the reader process only when it
turns out large (sync.sources.ldap.reader.SmallFirstReader); a known-large tenant's full read goes
there at once. Every way gives the same users, membership, results and errors. With libldap every
read stays in the run's process (the last test)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from typing import Any

import pytest

from sync.errors import IncompleteRead
from sync.sources.base import ReadRequest
from sync.sources.ldap import source as source_module
from sync.sources.ldap.connection import Client
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.ldap.test_ldap_groups import OTHER_ASKED, STAFF_ASKED, directory
from tests.support import slapd as S
from tests.support.reading import Collected, collect, request

FIRST_READ = 0  # nobody known yet
KNOWN_LARGE = source_module.SMALL_READ + 1


class Spawns:
    """Counts the processes started from here on (the real Popen still runs)."""

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
    return users, read.result.full, read.result.watermark is not None


@pytest.fixture
def client() -> Client:
    """The reader process is the ldap3 client's."""
    return "ldap3"


@pytest.fixture
def server_with_groups(make_slapd: MakeSlapd) -> Any:
    return make_slapd([*directory(), *S.people(60, start=7)])  # 66 people


ASKED = replace(request("primary_email"), groups=frozenset({STAFF_ASKED, OTHER_ASKED}))


def test_a_small_read_starts_no_process_and_reads_what_the_process_reads(
    server_with_groups: Any, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawns = Spawns(monkeypatch)  # after slapd's own start
    source = make_source(server_with_groups, page_size=20)

    by_process = collect(source.read(replace(ASKED, known_users=KNOWN_LARGE)))
    assert spawns.count == 1
    first = collect(source.read(replace(ASKED, known_users=FIRST_READ)))
    small = collect(source.read(replace(ASKED, known_users=66)))
    assert spawns.count == 1, "a small read started a process"

    assert shape(first) == shape(small) == shape(by_process)
    assert len(first.users) == 66 and any(u.groups for u in first.users)


def test_a_read_that_turns_out_large_is_read_again_by_the_process_once(
    server_with_groups: Any, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawns = Spawns(monkeypatch)
    source = make_source(server_with_groups, page_size=20)
    in_process = collect(source.read(replace(ASKED, known_users=FIRST_READ)))
    monkeypatch.setattr(source_module, "SMALL_READ", 30)  # 66 people: past it on page two

    moved = collect(source.read(replace(ASKED, known_users=FIRST_READ)))
    assert spawns.count == 1
    assert shape(moved) == shape(in_process)
    assert len(moved.pages) == len(in_process.pages)  # the dropped pages are not handed on


def test_a_delta_read_starts_no_process(
    make_slapd: MakeSlapd, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_slapd(S.people(5))
    spawns = Spawns(monkeypatch)
    source = make_source(server)
    first = collect(source.read(replace(request("primary_email"), known_users=KNOWN_LARGE)))
    assert first.result is not None and first.result.watermark
    since = first.result.watermark
    delta = collect(source.read(replace(request("primary_email", since=since),
                                        known_users=KNOWN_LARGE)))  # fmt: skip
    assert spawns.count == 1 and delta.result is not None and not delta.result.full


@pytest.mark.parametrize("known_users", [FIRST_READ, KNOWN_LARGE])
def test_an_incomplete_read_fails_alike_in_either_process(
    make_slapd: MakeSlapd, make_source: MakeSource, known_users: int
) -> None:
    server = make_slapd(S.people(120), database_lines=(f'limits dn.exact="{S.SYNC_DN}" size=50',))
    wanted: ReadRequest = replace(request("primary_email"), known_users=known_users)
    with pytest.raises(IncompleteRead, match=r"sizeLimitExceeded.*nobody is disabled"):
        collect(make_source(server, page_size=20).read(wanted))


def test_libldap_reads_a_large_tenant_in_the_runs_process_as_ldap3_does_in_its_own(
    server_with_groups: Any, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_process = collect(make_source(server_with_groups, page_size=20).read(
        replace(ASKED, known_users=KNOWN_LARGE)
    ))  # fmt: skip
    spawns = Spawns(monkeypatch)
    libldap = make_source(server_with_groups, page_size=20)
    libldap.client = "libldap"

    assert shape(collect(libldap.read(replace(ASKED, known_users=KNOWN_LARGE)))) == shape(
        by_process
    )
    assert spawns.count == 0
