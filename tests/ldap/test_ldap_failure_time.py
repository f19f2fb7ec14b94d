"""A server that is down fails the read within a stated time (docs/ldap.md, "Failure time"):
`retry_seconds` bounds the attempts and the waits between them, `timeout_seconds` each attempt."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator

import pytest

from sync.errors import SourceUnavailable
from tests.ldap.conftest import MakeSource
from tests.support import slapd as S
from tests.support.reading import collect, request


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A listener that accepts and stays silent (a hung server): the kernel completes the
    handshake from the backlog, nobody ever reads or answers. Loopback only."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"


def test_a_refused_connection_fails_within_the_retry_budget(
    make_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"ldap://127.0.0.1:{S.free_port()}"
    source = make_source(url, timeout_seconds=1, retry_seconds=3)
    started = time.monotonic()

    with caplog.at_level(logging.WARNING), pytest.raises(SourceUnavailable) as failed:
        collect(source.read(request("primary_email")))
    elapsed = time.monotonic() - started

    assert elapsed < 5
    message = str(failed.value)
    assert message.startswith(f"cannot reach {url}: connection refused (gave up after ")
    assert message.endswith("; retry_seconds = 3)")
    attempts = int(re.search(r"after (\d+) attempts", message).group(1))  # type: ignore[union-attr]
    assert attempts >= 2
    # one line per wait, saying what failed in words, how long until the next attempt and which
    retries = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert len(retries) == attempts - 1
    assert re.fullmatch(
        rf"LDAP: cannot reach {re.escape(url)}: connection refused; "
        r"trying again in \d+\.\d s \(attempt 2\)",
        retries[0],
    )
    assert "Retrying" not in caplog.text and "<locals>" not in caplog.text


def test_a_silent_server_fails_within_the_budget_and_one_attempt(
    make_source: MakeSource, silent_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(silent_url, timeout_seconds=1, retry_seconds=3)
    started = time.monotonic()

    with caplog.at_level(logging.WARNING), pytest.raises(SourceUnavailable) as failed:
        collect(source.read(request("primary_email")))
    elapsed = time.monotonic() - started

    # retry_seconds + one attempt's timeout (+ the reader process's start)
    assert 1.9 <= elapsed < 5
    assert re.fullmatch(
        rf"{re.escape(silent_url)}: no answer within 1 s \(timeout_seconds\) "
        r"\(gave up after \d attempts in \d+\.\d s; retry_seconds = 3\)",
        str(failed.value),
    )
    assert "trying again in" in caplog.text


def test_no_retry_budget_means_one_attempt(make_source: MakeSource, silent_url: str) -> None:
    source = make_source(silent_url, timeout_seconds=1, retry_seconds=0)
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match=r"gave up after 1 attempt in"):
        collect(source.read(request("primary_email")))
    assert time.monotonic() - started < 3
