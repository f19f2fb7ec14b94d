"""The next page fetched while this one is mapped: SmartHR's pages are read one after another
(each `Link` names the next), and a run spent about as long waiting for each page as mapping
it. A thread fetches ahead and hands the answers over in order, at most one waiting in hand and
one being fetched, so memory stays a page or two ahead of the reader whatever the read's size.

Nothing else changes: a failed fetch is raised to the reader at that page's place, after the
pages before it (so a partial read counts what it had read), and the thread fetches nothing
after it; a reader that stops early stops the thread (waiting for a fetch under way, which the
client's timeout and retry budget bound). The fetching function is the only thing the thread
touches (the HTTP session is not used by the reader meanwhile).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

A = TypeVar("A")
HAND_OFF_WAIT = 0.1  # how often a thread waiting to hand a page over checks whether to stop


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


@dataclass(frozen=True, slots=True)
class _End:
    pass


class Prefetched(Generic[A]):
    """`with Prefetched(fetch, next_of) as pages: for answer in pages:` the answers of `fetch()`,
    `next_of(answer)()`, ... until `next_of` gives None; each fetched while the one before it is
    being read."""

    def __init__(self, first: Callable[[], A], next_of: Callable[[A], Callable[[], A] | None]):
        self._next_of = next_of
        self._ready: queue.Queue[A | _Failed | _End] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fetch_all, args=(first,), name="smarthr-prefetch", daemon=True
        )

    def __enter__(self) -> Prefetched[A]:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def __iter__(self) -> Iterator[A]:
        while True:
            item = self._ready.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _fetch_all(self, first: Callable[[], A]) -> None:
        fetch: Callable[[], A] | None = first
        while fetch is not None and not self._stop.is_set():
            try:
                answer = fetch()
                fetch = self._next_of(answer)
            except Exception as exc:  # the reader raises it at this page's place
                self._hand_over(_Failed(exc))
                return
            if not self._hand_over(answer):
                return
        self._hand_over(_End())

    def _hand_over(self, item: A | _Failed | _End) -> bool:
        """Waits for room in hand; False when the reader stopped meanwhile."""
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=HAND_OFF_WAIT)
                return True
            except queue.Full:
                continue
        return False
