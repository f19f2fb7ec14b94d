"""The LDAP read's network half, in a process of its own: connect, bind, page through the
searches, and hand each page of raw entries to the run.

Receiving and BER-decoding a page is most of a read's CPU, and the run's own work on the page
(values, names, the plan) the rest; in one process they take turns, in two they overlap, which
on a machine with two cores makes a 100,000-user read about the longer of the two instead of
their sum. The pipe between them holds a few pages at most (the child waits while it is full),
so memory stays bounded; pages arrive in order and each exactly once.

The child is a fresh interpreter (not a fork: the scheduler runs tenants in threads, and a fork
taken while another thread holds a lock can hang) that imports only the reading code. It ignores
SIGINT and SIGTERM (the parent decides when a run stops, and stops it), and it ends by itself
when the parent goes away (its next send finds the pipe closed). Its warnings (retries) are
logged by the parent, through the parent's handlers, so they are formatted and redacted alike.
"""

from __future__ import annotations

import logging
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

from sync.errors import IncompleteRead, SourceUnavailable, SyncError, TransientError
from sync.retry import retrying
from sync.sources.childproc import PipeHandler, start_child
from sync.sources.ldap.connection import Endpoint, Pages, Session, open_session
from sync.sources.ldap.membership import GroupQuery, Membership, read_membership
from sync.sources.ldap.values import RawEntry

log = logging.getLogger("sync.sources.ldap")
# back-off between attempts to connect: 1, 2, 4, 8 s ... (each with jitter), at most 16 s
RETRY_INITIAL_SECONDS = 1.0
RETRY_LONGEST_SECONDS = 16.0


@dataclass(frozen=True, slots=True)
class Job:
    """What the child reads: the searches' filters in order, and the attributes to ask for;
    first the membership of the groups the tenant names, if any (sync.sources.ldap.membership)."""

    settings: Endpoint
    password: str | None
    filters: tuple[str, ...]
    attributes: tuple[str, ...]
    groups: GroupQuery | None = None


class PageReader:
    """The parent's side: `pages()` yields (search number, entries) until the read is done, and
    raises what the child met (our errors as they were raised). `membership` is set before the
    first page when the job asked for groups."""

    def __init__(self, job: Job) -> None:
        self._process, self._pipe = start_child("sync.sources.ldap.reader")
        self.membership: Membership = {}
        assert self._process.stdin is not None
        # the job (the bind password with it) goes through a pipe, never the command line
        with suppress(BrokenPipeError), self._process.stdin as stdin:
            stdin.write(pickle.dumps(job))

    def pages(self) -> Iterator[tuple[int, list[RawEntry]]]:
        while True:
            try:
                kind, *payload = self._pipe.recv()
            except EOFError:
                code = self._process.wait(5)
                raise IncompleteRead(
                    f"the LDAP reader process ended (exit code {code}) before the read was "
                    "complete; nobody is disabled"
                ) from None
            if kind == "page":
                number, entries = payload
                yield number, [RawEntry(dn, attributes) for dn, attributes in entries]
            elif kind == "groups":
                self.membership = payload[0]
            elif kind == "log":
                level, message = payload
                log.log(level, "%s", message)
            elif kind == "error":
                raise payload[0]
            elif kind == "crash":
                raise RuntimeError(f"the LDAP reader process failed:\n{payload[0]}")
            else:
                return

    def close(self) -> None:
        """Stops the child if it is still reading (the run ended early) and reaps it."""
        self._pipe.close()
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait(10)


class InProcessReader:
    """PageReader's interface, reading in the run's own process page by page: the libldap
    client's way (sync.sources.ldap.libldap), whose C decoding leaves a second process too
    little to do to pay for sending it the pages."""

    def __init__(self, job: Job) -> None:
        self._messages = read_messages(job)
        self.membership: Membership = {}

    def pages(self) -> Iterator[tuple[int, list[RawEntry]]]:
        for kind, payload in self._messages:
            if kind == "groups":
                self.membership = payload
            else:
                yield payload

    def close(self) -> None:
        self._messages.close()  # unbinds


class SmallFirstReader:
    """PageReader's interface, reading in the run's own process while the read stays small.

    Starting the reader process (a fresh interpreter importing ldap3) costs about 0.3 s of CPU,
    more than a whole small read: a fleet's tenants of a few hundred people, and delta reads
    that find a handful of changes. So the read starts here and holds its pages back; if it
    ends within `limit` entries they are handed on, and no process was started. If it goes past
    `limit`, this read stops (its connection unbinds, its pages are dropped unseen) and the
    reader process reads everything from the start: a large read costs one small read more, and
    no entry is ever handed on twice or from two different reads."""

    def __init__(self, job: Job, limit: int) -> None:
        self._job = job
        self._limit = limit
        self._process: PageReader | None = None
        self.membership: Membership = {}

    def pages(self) -> Iterator[tuple[int, list[RawEntry]]]:
        held = self._small_read()
        if held is not None:
            yield from held
            return
        self._process = PageReader(self._job)
        for page in self._process.pages():
            self.membership = self._process.membership
            yield page

    def _small_read(self) -> list[tuple[int, list[RawEntry]]] | None:
        """Every page of the read, or None once it has passed `limit` entries."""
        held: list[tuple[int, list[RawEntry]]] = []
        entries = 0
        reader = InProcessReader(self._job)
        try:
            for page in reader.pages():
                self.membership = reader.membership
                held.append(page)
                entries += len(page[1])
                if entries > self._limit:
                    return None
        finally:
            reader.close()  # unbinds
        return held

    def close(self) -> None:
        if self._process is not None:
            self._process.close()


def child_main(fd: int) -> None:
    job = pickle.load(sys.stdin.buffer)
    serve(job, Pipe(fd, readable=False))


def serve(job: Job, pipe: Pipe) -> None:
    """The child: every page of every search, then "end"; or the error that stopped it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    logging.getLogger().addHandler(PipeHandler(pipe))
    logging.getLogger().setLevel(logging.WARNING)
    try:
        for kind, payload in read_messages(job):
            if kind == "page":
                number, entries = payload
                pipe.send(("page", number, _plain(entries)))
            else:
                pipe.send((kind, payload))
        pipe.send(("end",))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent is gone or stopped listening: nothing is left to do
    except SyncError as exc:
        with suppress(OSError):
            pipe.send(("error", exc))
    except BaseException:
        with suppress(OSError):
            pipe.send(("crash", traceback.format_exc()))


def read_messages(job: Job) -> Generator[tuple[str, Any]]:
    """The read itself, wherever it runs: ("groups", membership) first when the job asked for
    groups, then ("page", (search number, entries)) for every page of every search."""
    session, search, first, membership = _begin(job)
    sent = len(first)
    try:
        if job.groups is not None:
            yield "groups", membership
        yield "page", (0, first)
        for number, search_filter in enumerate(job.filters):
            if number:
                search = session.search(search_filter, list(job.attributes))
            while not search.done:
                entries = _next(search, sent)
                sent += len(entries)
                yield "page", (number, entries)
    finally:
        session.close()


def _plain(entries: list[RawEntry]) -> list[tuple[str, Any]]:
    return [(entry.dn, entry.attributes) for entry in entries]


def _begin(job: Job) -> tuple[Session, Pages, list[RawEntry], Membership]:
    """Connects, binds, reads the groups' membership and the first page, retrying transient
    failures with exponential back-off and jitter (sync.retry) while `retry_seconds` last,
    attempts included: no attempt or wait starts that would begin past them. Later pages are not
    retried: starting again would hand the same people on twice."""
    settings = job.settings
    attempts = 0

    def attempt() -> tuple[Session, Pages, list[RawEntry], Membership]:
        nonlocal attempts
        attempts += 1
        session = open_session(settings, job.password)
        try:
            membership = read_membership(session, settings, job.groups) if job.groups else {}
            search = session.search(job.filters[0], list(job.attributes))
            return session, search, search.next_page(), membership
        except BaseException:
            session.close()
            raise

    started = time.monotonic()
    policy = retrying(
        budget_seconds=settings.retry_seconds,
        initial_seconds=RETRY_INITIAL_SECONDS,
        longest_seconds=RETRY_LONGEST_SECONDS,
        what="LDAP",
    )
    try:
        return policy(attempt)
    except TransientError as exc:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        raise SourceUnavailable(
            f"{exc} (gave up after {tries} in {time.monotonic() - started:.1f} s; "
            f"retry_seconds = {settings.retry_seconds:g})"
        ) from None


def _next(search: Pages, sent: int) -> list[RawEntry]:
    try:
        return search.next_page()
    except TransientError as exc:
        raise IncompleteRead(
            f"{exc} after {sent} entries; the read is incomplete and nobody is disabled (the "
            "next run reads again)"
        ) from None
