"""SmartHR crews through `GET /api/v1/crews` (SPEC §16).

The read asks for `per_page=100` and follows the `Link` header's `rel="next"` until there is none.
SmartHR pages by number, so a crew added or removed during the read shifts the pages: someone
may be read twice and someone else not at all. The read is therefore whole only when every page
gave the same `x-total-count` and the number of distinct crews read equals it; otherwise it is
read once more, and a second mismatch fails the run with nobody disabled. Because a pass may be
thrown away, a run's read (ReadRequest.restartable) gets each page as it comes, so its planner
works while the next pages are fetched, and a `Page(restart=True)` before a second pass: the
run's planner then forgets the first (sync.services.directory.feed). Any other reader (a lookup,
a search for one person) gets each pass only once it is known whole (a SmartHR tenant is one
company's staff: tens of thousands at most).

A read of one person (ReadRequest.only) by a key that can be a crew id is `GET
/api/v1/crews/{id}` alone: that crew, or nobody when SmartHR answers 404 `not_found`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator
from urllib.parse import quote, urlencode

from sync.errors import IncompleteRead, TransientError, UserIssue
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead, cut_short
from sync.sources.settings import SmartHrSourceSettings
from sync.sources.smarthr import reader
from sync.sources.smarthr.client import Answer, Site, SmartHrClient
from sync.sources.smarthr.crews import CrewMapping
from sync.sources.smarthr.prefetch import Prefetched
from sync.sources.smarthr.reader import Pages, ReaderProcess, start_reader

log = logging.getLogger(__name__)

FIRST_PAGE = {"page": "1", "per_page": "100"}  # the largest page SmartHR serves
# what can be a crew's id (SmartHR's are UUIDs): a key with `@`, `=` or a space (an address, a
# DN) cannot, and is looked for in the whole read by the caller (ReadRequest.only)
CREW_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
PASSES = 2  # a read whose count does not add up is read once more, then fails


class SmartHrSource:
    kind = "smarthr"

    def __init__(self, settings: SmartHrSourceSettings) -> None:
        self.settings = settings
        self.mapping = CrewMapping(dict(settings.attributes), settings.absent_policy == "keep")
        self._early: ReaderProcess | None = None  # started by prepare(), for the first pass
        self._site: Site | None = None  # the settings in plain values, the token read once

    def prepare(self, known_users: int) -> None:
        """A tenant large enough to hand its read over (sync.sources.smarthr.reader) gets its
        reader process now, fetching from the first page on while the run loads the stored
        accounts."""
        if known_users >= reader.HAND_OVER_CREWS and self._early is None:
            self._early = start_reader(self.site(), self._first_page())

    def site(self) -> Site:
        """The site and its token, read once for a run's prepare() and read() alike."""
        if self._site is None:
            self._site = Site.of(self.settings)
        return self._site

    def close(self) -> None:
        """Stops a reader process the read did not take (a run that ended before reading)."""
        if self._early is not None:
            self._early.close()
            self._early = None

    def read(self, request: ReadRequest) -> SourceRead:
        client = SmartHrClient(self.site())
        try:
            if self._by_id(request.only):
                assert request.only is not None
                return (yield from self._one(client, request, request.only))
            for attempt in range(1, PASSES + 1):
                # held until the pass is known whole, unless the caller can start again
                held: list[Page] | None = None if request.restartable else []
                problem, stats = yield from self._pass(client, request, held)
                if problem is None:
                    yield from held or ()
                    stats |= {"passes": attempt, "retries": client.retries}
                    return ReadResult(full=True, stats=stats)
                log.warning("SmartHR: %s (pass %d of %d)", problem, attempt, PASSES)
                if held is None and attempt < PASSES:
                    yield Page(restart=True)  # the pages given so far are void
            raise IncompleteRead(
                f"smarthr: the crews changed while they were read twice: {problem}; "
                "nobody is disabled"
            )
        finally:
            client.close()

    def _by_id(self, only: str | None) -> bool:
        """Whether `only` is read by `GET /api/v1/crews/{id}`: a key that can be a crew id,
        where the source id is the crew's `id` (a tenant may map it to another field)."""
        return only is not None and self.mapping.id_field == "id" and bool(CREW_ID.fullmatch(only))

    def _one(self, client: SmartHrClient, request: ReadRequest, crew_id: str) -> SourceRead:
        """`GET /api/v1/crews/{id}`: that crew alone, or nobody (404). Partial: nobody is gone."""
        url = f"{self.settings.site()}/api/v1/crews/{quote(crew_id, safe='')}"
        try:
            crew = client.get_one(url)
        except TransientError as exc:
            raise cut_short("smarthr", exc, 0, "0 crews", self.settings.retry_max_seconds) from None
        stats = {"pages": 1, "crews": 0 if crew is None else 1, "retries": client.retries}
        if crew is not None:
            outcome = self.mapping.to_user(crew, "crew", request.groups, request.extra_fields)
            if isinstance(outcome, DirectoryUser):
                yield Page(users=(outcome,))
            else:
                yield Page(issues=(outcome,))
        return ReadResult(full=False, stats=stats)

    def _pass(
        self, client: SmartHrClient, request: ReadRequest, held: list[Page] | None
    ) -> Generator[Page, None, tuple[str | None, dict[str, int]]]:
        """One read of every page, each page given as it comes, or kept in `held`; returns why
        the pages do not add up (None: they do) and stats. The next page is fetched while this
        one is mapped (sync.sources.smarthr.prefetch); in a large read, by a process of its
        own (sync.sources.smarthr.reader)."""
        totals: set[int | None] = set()
        ids: set[str] = set()
        anonymous = 0  # crews without an id: read, but not told apart
        stats = {"pages": 0, "crews": 0}
        early, self._early = self._early, None  # the first pass takes it
        pages = Pages(client, self._first_page(), request.known_users, early)
        try:
            with Prefetched(pages.first, pages.next_of) as fetched:
                for answer in self._answers(fetched, stats):
                    stats["pages"] += 1
                    totals.add(answer.total)
                    for crew in answer.crews:
                        crew_id = crew.get("id") if isinstance(crew, dict) else None
                        if isinstance(crew_id, str) and crew_id:
                            ids.add(crew_id)
                        else:
                            anonymous += 1
                    page = self._page(answer, stats["pages"], request)
                    stats["crews"] += len(answer.crews)
                    if held is None:
                        yield page
                    else:
                        held.append(page)
        finally:
            pages.close()
        if pages.handed_over_at:
            stats["reader_process_from_page"] = pages.handed_over_at
            log.info("SmartHR: pages %d to %d came from the reader process (its peak %.1f MB)",
                     pages.handed_over_at, stats["pages"], pages.process_peak_mb)  # fmt: skip
        return _mismatch(totals, len(ids) + anonymous), stats

    def _page(self, answer: Answer, number: int, request: ReadRequest) -> Page:
        users: list[DirectoryUser] = []
        issues: list[UserIssue] = []
        to_user, groups, extra = self.mapping.to_user, request.groups, request.extra_fields
        for position, crew in enumerate(answer.crews, start=1):
            outcome = to_user(crew, f"page {number} crew {position}", groups, extra)
            if isinstance(outcome, DirectoryUser):
                users.append(outcome)
            else:
                issues.append(outcome)
        return Page(tuple(users), tuple(issues))

    def _first_page(self) -> str:
        return f"{self.settings.site()}/api/v1/crews?{urlencode(FIRST_PAGE)}"

    def _answers(self, fetched: Prefetched[Answer], stats: dict[str, int]) -> Iterator[Answer]:
        """The pages in order; a page that failed after its retries cuts the read short there."""
        try:
            yield from fetched
        except TransientError as exc:
            read = f"{stats['crews']} crews"
            budget = self.settings.retry_max_seconds
            raise cut_short("smarthr", exc, stats["pages"], read, budget) from None


def _mismatch(totals: set[int | None], distinct: int) -> str | None:
    """Why the pages do not add up to a whole read, or None."""
    counts = sorted(t for t in totals if t is not None)
    if len(counts) < len(totals):
        return "a page came without x-total-count"
    if len(counts) > 1:
        return f"x-total-count changed between pages ({', '.join(map(str, counts))})"
    total = counts[0] if counts else 0
    if distinct != total:
        return f"{distinct} distinct crews read where x-total-count says {total}"
    return None
