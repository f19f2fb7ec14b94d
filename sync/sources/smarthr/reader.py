"""A large SmartHR read's pages fetched by a process of its own.

In one process the fetching (requests, about 60 % of the bare paging's time with the JSON
decoding) and the run's own work on each page (mapping, planning) take turns on the interpreter
lock, so a no-change run of 20,000 crews took about their sum: 1.7 to 1.9 times the bare
paging. In a second process the HTTP work overlaps the run's instead; each page's body is sent
as it came and decoded in the run (a body that does not even look like a JSON list is retried
there, one that then does not decode makes the read incomplete), where the run has time to spare.

Starting the process (a fresh interpreter importing requests and the client: sync.sources.
childproc) costs 0.1 to 0.2 s of CPU, more than a small read. So it is only ever started for a
tenant whose store already holds HAND_OVER_CREWS accounts, and in one of two ways:
- the run prepares the source before it loads the stored accounts (SmartHrSource.prepare): the
  process is started with the first page's URL and pages meanwhile, into a pipe with room for
  PIPE_BYTES; the read then takes every page from it;
- a read that was not prepared (a lookup, a test) starts in the run's own process
  (sync.sources.smarthr.prefetch), starts the process when its first page counts that many
  crews, and goes on; at the first page after the process is ready, the next page's URL is
  handed to it, and it fetches that page and every one after it by `Link`.
Either way each page is fetched once, in order, by one of the two, so nothing a read decides
(x-total-count, the distinct ids, a page that fails after its retries) changes.

The process gets the site and the token through a pipe (never its command line), retries as
the client does (sync.retry), and sends its warnings to be logged here. What stopped it (a
failure after retries, a refused token) is raised at its page's place as the client would have
raised it; a process that ends without finishing makes the read incomplete: nobody is disabled.
"""

from __future__ import annotations

import logging
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from multiprocessing.connection import Connection as Pipe

from sync.errors import IncompleteRead, SyncError
from sync.sources.childproc import PipeHandler, start_child
from sync.sources.smarthr.client import Answer, RawPage, Site, SmartHrClient

log = logging.getLogger(__name__)

# a read of at least this many crews, of a tenant whose store holds as many accounts, is handed
# over: 50 pages and more, where the process has started within the first 20 to 40 and the pages
# after them pay for it. A first run is not (its time is its writes, and its memory the most a
# run holds: the process's 30 MB would come on top).
HAND_OVER_CREWS = 5_000
# the pipe's room (Linux's default cap for one pipe): pages the process may fetch ahead of the
# run, about 50 of the emulator's; memory stays bounded by it
PIPE_BYTES = 1 << 20
# seconds to wait, at each page, for the process to be ready: none, the read goes on meanwhile
# (tests wait, to hand over at a known page)
READY_WAIT = 0.0


class ReaderProcess:
    """The parent's side of one reader process: started with the site, `ready()` once it has
    imported what it needs, `start(url)` to fetch from `url` on, `receive()` for each page."""

    def __init__(self, site: Site, url: str | None = None) -> None:
        """`url`: fetch from there on at once (a read known to be large before it starts);
        without it the process waits for `start(url)`."""
        self._process, self._pipe = start_child("sync.sources.smarthr.reader", PIPE_BYTES)
        self._ready = False
        self.failed = False  # it ended or broke before it was ready: the read stays here
        self.retries = 0
        self.peak_mb = 0.0  # its peak memory as of the last page it sent
        self._send(site)
        if url is not None:
            self.start(url)

    def ready(self, wait: float = 0) -> bool:
        """Whether the process waits for its first URL (never blocks beyond `wait` seconds)."""
        if self._ready or self.failed:
            return self._ready
        try:
            if not self._pipe.poll(wait):
                return False
            message = self._pipe.recv()
        except (EOFError, OSError):
            message = ("crash", "ended before it was ready")
        if message[0] == "ready":
            self._ready = True
        else:
            self.failed = True
            log.warning("SmartHR: the reader process could not start (%s); reading in this "
                        "process", message[-1])  # fmt: skip
        return self._ready

    def start(self, url: str) -> None:
        self._send(url)
        assert self._process.stdin is not None
        with suppress(OSError):
            self._process.stdin.close()

    def receive(self) -> Answer:
        """The next page, or what stopped the process, raised."""
        while True:
            try:
                kind, *payload = self._pipe.recv()
            except (EOFError, OSError):
                code = self._process.wait(5)
                raise IncompleteRead(
                    f"smarthr: the reader process ended (exit code {code}) before the read was "
                    "complete; nobody is disabled"
                ) from None
            if kind == "page":  # decoded here: the process's time is the read's
                body, url, next_url, total, self.retries, self.peak_mb = payload
                return RawPage(body, url, next_url, total).answer()
            if kind == "ready":  # started with its URL: nobody asked
                self._ready = True
                continue
            if kind == "log":
                level, message = payload
                log.log(level, "%s", message)
            elif kind == "error":
                raise payload[0]
            else:
                log.error("SmartHR reader process failed:\n%s", payload[0])
                raise IncompleteRead(
                    "smarthr: the reader process failed before the read was complete; nobody "
                    "is disabled"
                )

    def close(self) -> None:
        """Stops the process if it is still running (the read ended early) and reaps it."""
        self._pipe.close()
        if self._process.stdin is not None:
            with suppress(OSError):
                self._process.stdin.close()
        if self._process.poll() is None:
            self._process.kill()  # it ignores SIGTERM (a Ctrl-C of the run's process group)
        self._process.wait()

    def _send(self, value: object) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(pickle.dumps(value))
            self._process.stdin.flush()
        except OSError:
            self.failed = True  # it is gone already; ready() never says yes


def start_reader(site: Site, url: str | None = None) -> ReaderProcess | None:
    """A reader process (fetching from `url` at once, if given), or None (logged) where none
    can be started: the read stays in this process."""
    try:
        return ReaderProcess(site, url)
    except OSError as exc:
        log.warning("SmartHR: no reader process (%s); reading in this process", exc)
        return None


class Pages:
    """The fetches of one pass for sync.sources.smarthr.prefetch: in this process, and from
    the page after the reader process is ready, by it; or every page by `early`, a process the
    source's prepare() started on the first page already. `handed_over_at`: the number of the
    first page the process fetched (0: none)."""

    def __init__(
        self,
        client: SmartHrClient,
        first_url: str,
        known_users: int,
        early: ReaderProcess | None = None,
    ) -> None:
        self._client = client
        self._large = known_users >= HAND_OVER_CREWS
        self._first = partial(client.get, first_url)
        self._process = early
        self._from_process = early is not None
        self._pages = 0
        self._counted = 0  # the process's retries already added to the client's
        self.handed_over_at = 1 if early is not None else 0

    def first(self) -> Answer:
        self._pages = 1
        if self._from_process:
            return self._received()
        answer = self._first()
        large = self._large and (answer.total or 0) >= HAND_OVER_CREWS
        if large and answer.next_url:
            self._process = start_reader(self._client.site)
        return answer

    def next_of(self, answer: Answer) -> Callable[[], Answer] | None:
        if answer.next_url is None:
            return None
        self._pages += 1
        if self._from_process:
            return self._received
        process = self._process
        if process is not None and process.ready(READY_WAIT):
            process.start(answer.next_url)
            self._from_process, self.handed_over_at = True, self._pages
            return self._received
        return partial(self._client.get, answer.next_url)

    def close(self) -> None:
        if self._process is not None:
            self._process.close()

    @property
    def process_peak_mb(self) -> float:
        return self._process.peak_mb if self._process is not None else 0.0

    def _received(self) -> Answer:
        assert self._process is not None
        try:
            return self._process.receive()
        finally:  # the process's retries count as the read's
            self._client.retries += self._process.retries - self._counted
            self._counted = self._process.retries


def child_main(fd: int) -> None:
    pipe = Pipe(fd, readable=False)
    for signum in (signal.SIGINT, signal.SIGTERM):  # the parent decides when a read stops
        signal.signal(signum, signal.SIG_IGN)
    logging.getLogger().addHandler(PipeHandler(pipe))
    logging.getLogger().setLevel(logging.WARNING)
    try:
        site: Site = pickle.load(sys.stdin.buffer)
        pipe.send(("ready",))
        try:
            url: str | None = pickle.load(sys.stdin.buffer)
        except EOFError:
            return  # the read ended in the parent's process: nothing to fetch
        serve(SmartHrClient(site), url, pipe)
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent is gone or stopped listening
    except BaseException:
        with suppress(OSError):
            pipe.send(("crash", traceback.format_exc()))


def serve(client: SmartHrClient, url: str | None, pipe: Pipe) -> None:
    """Every page from `url` on by `Link`; or the error that stopped the read."""
    try:
        while url:
            raw = client.get_raw(url)
            figures = (raw.total, client.retries, _peak_mb())
            pipe.send(("page", raw.body, raw.url, raw.next_url, *figures))
            url = raw.next_url
    except SyncError as exc:
        pipe.send(("error", exc))
    finally:
        client.close()


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: getrusage's maxrss would count the memory
    of the run's process, which this one was forked from before it ran Python anew)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
