"""A read is complete or it raises: size limits, referrals, dropped and late servers."""

from __future__ import annotations

import threading
import time

import pytest

from sync.errors import IncompleteRead
from tests.ldap.conftest import MakeSlapd, MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request

REFERRAL = (
    f"dn: ou=elsewhere,{S.PEOPLE}\nobjectClass: referral\nobjectClass: extensibleObject\n"
    f"ou: elsewhere\nref: ldap://other.example.com/ou=people,dc=example,dc=com\n\n"
)


@pytest.mark.parametrize("page_size", [20, 1000])
def test_a_size_limit_below_the_directory_fails_the_read(
    make_slapd: MakeSlapd, make_source: MakeSource, page_size: int
) -> None:
    """ldap3 would end quietly after the limit: the result code after the last page says no."""
    limit = f'limits dn.exact="{S.SYNC_DN}" size=50'
    server = make_slapd(S.people(120), database_lines=(limit,))
    read = make_source(server, page_size=page_size).read(request("primary_email"))

    with pytest.raises(IncompleteRead, match=r"sizeLimitExceeded.*nobody is disabled"):
        collect(read)


def test_a_size_limit_above_the_directory_is_fine(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    limit = f'limits dn.exact="{S.SYNC_DN}" size=500'
    server = make_slapd(S.people(120), database_lines=(limit,))
    read = collect(make_source(server, page_size=20).read(request("primary_email")))

    assert len(read.users) == 120 and read.result is not None and read.result.full


def test_a_referral_not_followed_fails_the_read(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([*S.people(3), REFERRAL])

    with pytest.raises(IncompleteRead, match=r"referral to ldap://other.example.com/"):
        collect(make_source(server).read(request("primary_email")))


def test_a_referral_listed_as_ignored_is_skipped(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd([*S.people(3), REFERRAL])
    source = make_source(server, ignore_referrals=["LDAP://other.example.com/"])
    read = collect(source.read(request("primary_email")))

    assert len(read.users) == 3 and read.result is not None and read.result.full


def test_a_connection_dropped_mid_read_fails_the_read(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    """The reader process runs ahead of the run by what the pipe holds (a few dozen pages of
    ten here), so with 300 pages the server stops while the read is surely unfinished."""
    server = make_slapd(S.people(3000))
    read = make_source(server, page_size=10, retry_seconds=5).read(request("primary_email"))
    first = next(read)
    server.stop()

    assert len(first.users) == 10
    # not retried: restarting now would hand the ones already read on twice
    with pytest.raises(IncompleteRead, match=r"after \d+ entries.*nobody is disabled"):
        collect(read)


def test_a_server_that_comes_up_late_is_retried(
    make_slapd: MakeSlapd, make_source: MakeSource
) -> None:
    server = make_slapd(S.people(5))
    server.stop()
    starter = threading.Timer(1.0, server.start)
    starter.start()
    try:
        started = time.monotonic()
        read = collect(make_source(server, retry_seconds=20).read(request("primary_email")))
    finally:
        starter.join()

    assert len(read.users) == 5
    assert time.monotonic() - started >= 1.0
