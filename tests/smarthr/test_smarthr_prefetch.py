"""sync.sources.smarthr.prefetch: the next SmartHR page is fetched while this one is read, in
order, never more than two pages ahead of the reader; a failed fetch reaches the reader at its
page's place, after the pages before it, and nothing is fetched after it; a reader that stops
early stops the fetching thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest

from sync.sources.smarthr.prefetch import Prefetched
from tests.ops.conftest import wait_for

PAGES = 30


class Pages:
    """Page n's fetch, recording how far ahead of the reader each fetch started."""

    def __init__(self, failing: int | None = None) -> None:
        self.failing = failing
        self.fetched: list[int] = []
        self.read = 0  # pages the reader has taken
        self.ahead: list[int] = []  # for each fetch: pages fetched beyond those read
        self.lock = threading.Lock()

    def fetch(self, n: int) -> int:
        with self.lock:
            self.fetched.append(n)
            self.ahead.append(n - self.read)
        if n == self.failing:
            raise ConnectionError(f"page {n} failed")
        return n

    def next_of(self, n: int) -> Callable[[], int] | None:
        return partial(self.fetch, n + 1) if n < PAGES else None

    def has_fetched(self, count: int) -> bool:
        with self.lock:
            return len(self.fetched) >= count

    def took(self, n: int) -> None:
        with self.lock:
            self.read = n

    def prefetched(self) -> Prefetched[int]:
        return Prefetched(partial(self.fetch, 1), self.next_of)


def test_pages_come_in_order_each_fetched_while_the_one_before_is_read() -> None:
    pages = Pages()
    seen = []
    with pages.prefetched() as fetched:
        for n in fetched:
            pages.took(n)
            seen.append(n)
            if n < PAGES - 2:
                # the thread fetches ahead of the reader: the pages after this are under way
                wait_for(partial(pages.has_fetched, n + 2), 10, f"page {n + 2} fetched")
    assert seen == list(range(1, PAGES + 1)) and pages.fetched == seen
    # never more than two pages ahead: one waiting in hand and one being fetched
    assert max(pages.ahead) <= 2


def test_a_failed_fetch_reaches_the_reader_at_its_place_and_ends_the_fetching() -> None:
    pages = Pages(failing=7)
    seen = []
    with pytest.raises(ConnectionError, match="page 7 failed"), pages.prefetched() as fetched:
        for n in fetched:
            pages.took(n)
            seen.append(n)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert pages.fetched == [1, 2, 3, 4, 5, 6, 7]  # nothing after the failure


def test_a_reader_that_stops_early_stops_the_thread() -> None:
    pages = Pages()
    before = set(threading.enumerate())
    with pages.prefetched() as fetched:
        for n in fetched:
            pages.took(n)
            if n == 3:
                break
    assert set(threading.enumerate()) <= before  # the fetching thread has ended
    assert max(pages.fetched) <= 5
