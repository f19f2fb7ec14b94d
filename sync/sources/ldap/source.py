"""LDAP and Active Directory as the directory (`kind = "ldap"`, SPEC §8).

One connection per read, RFC 2696 paged searches asking only for the attributes the run needs,
through libldap in this process where python-ldap is installed (sync.sources.ldap.libldap), else
through ldap3, a large read received in a process of its own (sync.sources.ldap.reader) while
this one turns the previous page into users. A read is complete only if every page ended in
success: a size or time limit, a referral or a dropped connection raises, so nobody is
disabled. Connecting, binding and the first page are retried with back-off (restarting the
read); once pages have been handed on, a broken connection fails the run instead, because
re-reading would hand the same people on twice.

Delta reads (`request.since`) ask for entries whose server change time (`modifyTimestamp`,
AD `whenChanged`) is at or after the watermark; only a full read can see deleted entries. When
the tenant names groups, the reader first reads their membership (sync.sources.ldap.membership)
and every read is full: a membership change does not touch the person's entry.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sync.config.secrets import read_secret
from sync.errors import StopRun, UserIssue
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.ldap.connection import Client, Endpoint, client_for, escape_filter_value
from sync.sources.ldap.dialects import ACTIVE_DIRECTORY, DIALECTS, Dialect, places_for
from sync.sources.ldap.membership import GroupQuery, GroupsOf, Mode
from sync.sources.ldap.reader import InProcessReader, Job, PageReader, SmallFirstReader
from sync.sources.ldap.values import (
    EntryReader,
    RawEntry,
    parse_generalized_time,
    to_filetime,
)
from sync.sources.settings import LdapSourceSettings


@dataclass(frozen=True, slots=True)
class Pass:
    """One search of a read: its filter, and whether what it finds is inactive by filter."""

    search_filter: str
    inactive: bool


class LdapSource:
    kind = "ldap"

    def __init__(
        self,
        settings: LdapSourceSettings,
        *,
        client: Client | None = None,
        lean_entries: bool = True,
    ) -> None:
        self.settings = settings
        # libldap where python-ldap is installed (the `ldap-c` extra), else ldap3; tests and
        # the benchmark name one to compare them
        self.client = client or client_for(settings.url, settings.start_tls)
        # False: entries from ldap3's public response, for measuring the lean path against
        # (bench/ldap_read.py --entries ldap3); see sync.sources.ldap.lean
        self.lean_entries = lean_entries
        self.dialect = DIALECTS[settings.dialect]
        self.places = places_for(self.dialect, settings.attributes)

    def read(self, request: ReadRequest) -> SourceRead:
        self._check_required(request)
        started = time.monotonic()
        now = datetime.now(UTC)  # the run's clock: account expiry is compared with it
        reader = EntryReader(
            self.dialect, self.places, request.attributes, request.extra_fields, now
        )
        # membership changes need not touch the person's entry (OpenLDAP changes the group's):
        # with groups, every read is full, so someone who left a group is seen (docs/ldap.md)
        since = None if request.groups or request.only else request.since
        passes = self._passes(since, now, request.only)
        filters = tuple(one_pass.search_filter for one_pass in passes)
        attributes = tuple(self._attributes(request))
        endpoint = Endpoint.of(
            self.settings,
            client=self.client,
            lean_entries=self.lean_entries,
            own_partitions=self.dialect.own_partitions,
        )
        job = Job(endpoint, self._password(), filters, attributes, self._group_query(request))
        tally = _Tally(GroupsOf(request.groups, self.places.get("groups", ())))
        pages = _reader(job, request, since)
        try:
            for number, entries in pages.pages():
                tally.groups.membership = pages.membership
                tally.stats["pages"] += 1
                tally.stats["entries"] += len(entries)
                yield tally.page(reader, entries, passes[number].inactive)
        finally:
            pages.close()
        watermark = self._watermark(since, tally.newest, time.monotonic() - started)
        full = since is None and tally.ids_known
        return ReadResult(full=full, watermark=watermark, stats=dict(tally.stats))

    # -- planning ------------------------------------------------------------------------------

    def _check_required(self, request: ReadRequest) -> None:
        """An attribute no name can be made without, and no LDAP attribute holds: say so at
        once rather than report every person."""
        unmapped = sorted(a for a in request.required - {"active"} if not self.places.get(a))
        if unmapped:
            raise StopRun(
                f"ldap source ({self.dialect.name}): no LDAP attribute holds "
                f"{', '.join(unmapped)}; map one in [tenants.source.attributes] "
                f'(e.g. {unmapped[0]} = "mail")'
            )

    def _group_query(self, request: ReadRequest) -> GroupQuery | None:
        """How the reader finds the requested groups' members: the person's own attribute when
        `groups` is mapped, AD's in-chain matching rule, or OpenLDAP's member values."""
        if not request.groups:
            return None
        mode: Mode
        if self.places.get("groups"):
            mode = "exists"
        elif self.dialect is ACTIVE_DIRECTORY:
            mode = "in_chain"
        else:
            mode = "members"
        return GroupQuery(tuple(sorted(request.groups)), mode)

    def _passes(self, since: str | None, now: datetime, only: str | None = None) -> list[Pass]:
        """The searches of one read. With an `inactive_filter`, the inactive entries are read
        first and the rest after, so an entry that changes in between is seen at least once."""
        user_filter = _parenthesised(self.settings.user_filter or self.dialect.user_filter)
        if since is not None:
            user_filter = f"(&{user_filter}{self._changed_since(since, now)})"
        one = one_entry_filter(self.dialect, self.places, only) if only else None
        if one is not None:
            user_filter = f"(&{user_filter}{one})"
        inactive = self.settings.inactive_filter
        if not inactive:
            return [Pass(user_filter, inactive=False)]
        return [
            Pass(f"(&{user_filter}{_parenthesised(inactive)})", inactive=True),
            Pass(user_filter, inactive=False),
        ]

    def _changed_since(self, since: str, now: datetime) -> str:
        """A delta's filter: changed at or after the watermark, or (AD) expired since then, for
        an account's expiry passing changes nothing on the entry. The expiry window starts at
        the watermark (the server's clock) less an hour, for the two clocks' disagreement;
        reading an entry again is harmless."""
        try:
            moment = parse_generalized_time(since)
        except ValueError:
            raise StopRun(
                f"the delta watermark {since!r} is not a time the LDAP source wrote; "
                "run once with --full"
            ) from None
        text = escape_filter_value(moment.strftime(self.dialect.filter_time_format))
        changed = f"({self.dialect.changed_attribute}>={text})"
        expires = self.dialect.expires_attribute
        if not expires:
            return changed
        start = to_filetime(min(moment, now) - timedelta(hours=1))
        expired = f"(&({expires}>={start})({expires}<={to_filetime(now)}))"
        return f"(|{changed}{expired})"

    def _attributes(self, request: ReadRequest) -> list[str]:
        """Only what the run needs: the mapped attributes, the id, the disabled flag, the change
        time, and the raw extra fields."""
        wanted = {"source_id", *request.attributes}
        names = {n for a in wanted for n in self.places.get(a, ())}
        names |= {self.dialect.disabled.attribute, self.dialect.changed_attribute}
        names |= {
            a for a in (self.dialect.expires_attribute, self.dialect.account_name_attribute) if a
        }
        names |= set(request.extra_fields)
        if request.groups:
            names |= set(self.places.get("groups", ()))
        return sorted(names, key=str.lower)

    # -- reading -------------------------------------------------------------------------------

    def _password(self) -> str | None:
        what = f"LDAP bind password for {self.settings.bind_dn}"
        password = read_secret(what, self.settings.password_env, self.settings.password_file)
        if self.settings.bind_dn and password == "":
            raise StopRun(f"{what}: the configured password is empty")
        if self.settings.bind_dn and not password:
            # a simple bind with a DN and no password is an unauthenticated bind (RFC 4513
            # §5.1.2): servers accept it and show almost nothing, which would look like an
            # empty directory
            raise StopRun(f"{what}: set password_env or password_file")
        return password

    def _watermark(self, since: str | None, newest: datetime | None, seconds: float) -> str | None:
        """The next delta's start, from the server's own change times.

        An entry changed during this read after it was read may be stamped earlier than the
        newest stamp seen, so the watermark is moved back by the read's duration (a length of
        time, not a reading of our clock) plus a second for the stamps' whole seconds. Entries
        at or after it are read again next time, which is harmless.
        """
        previous = parse_generalized_time(since) if since else None
        if newest is None:
            return since
        mark = newest - timedelta(seconds=math.ceil(seconds) + 1)
        if previous is not None:
            mark = max(mark, previous)
        return mark.strftime(self.dialect.filter_time_format)


@dataclass
class _Tally:
    """What a read keeps across pages: counts, the newest change time, whether every entry had
    an id, and the ids the inactive pass found (bounded by the inactive people, not everyone)."""

    groups: GroupsOf
    stats: Counter[str] = field(default_factory=Counter)
    newest: datetime | None = None
    ids_known: bool = True
    inactive_ids: set[str] = field(default_factory=set)

    def page(self, reader: EntryReader, entries: list[RawEntry], inactive: bool) -> Page:
        users: list[DirectoryUser] = []
        issues: list[UserIssue] = []
        for entry in entries:
            groups = self.groups.of(entry.dn, entry.attributes)
            outcome = reader.convert(entry.dn, entry.attributes, not inactive, groups)
            if outcome.changed and (self.newest is None or outcome.changed > self.newest):
                self.newest = outcome.changed
            self.ids_known &= outcome.id_known
            found = outcome.user or outcome.issue
            if found is None or found.source_id in self.inactive_ids:
                continue  # seen by the inactive pass already
            if inactive:
                self.inactive_ids.add(found.source_id)
            if outcome.user:
                users.append(outcome.user)
            elif outcome.issue:
                issues.append(outcome.issue)
        self.stats["users"] += len(users)
        self.stats["issues"] += len(issues)
        self.stats["inactive"] += sum(not u.active for u in users)
        return Page(tuple(users), tuple(issues))


# A read of at most this many entries is done in the run's own process (SmallFirstReader)
SMALL_READ = 2_000


def one_entry_filter(
    dialect: Dialect, places: Mapping[str, tuple[str, ...]], key: str
) -> str | None:
    """A filter for the one person `key` names (ReadRequest.only): a DN on the dialect's DN
    attribute, else a source id on the id attribute(s), written as the server stores it (AD's
    objectGUID as its 16 bytes). None when the key cannot be an id of this directory: the read
    is then of everyone, and the caller keeps the person."""
    if "=" in key:
        return f"({dialect.dn_attribute}={escape_filter_value(key)})"
    terms = []
    for attribute in places["source_id"]:
        decoder = dialect.decoders.get(attribute.lower())
        if decoder in ("guid", "uuid"):  # a key that is no UUID cannot be this id: not asked
            try:
                parsed = uuid.UUID(key)
            except ValueError:
                continue
            value = _escaped_bytes(parsed.bytes_le) if decoder == "guid" else str(parsed)
        else:
            value = escape_filter_value(key)
        terms.append(f"({attribute}={value})")
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else f"(|{''.join(terms)})"


def _escaped_bytes(data: bytes) -> str:
    """Bytes as an LDAP filter value holds them: every byte escaped (RFC 4515 §3)."""
    return "".join(f"\\{byte:02x}" for byte in data)


def _reader(
    job: Job, request: ReadRequest, since: str | None
) -> InProcessReader | PageReader | SmallFirstReader:
    """libldap reads in this process. With ldap3, a full read of a tenant the store knows to be
    large goes to the reader process at once; any other read (a delta, a small tenant, a
    tenant's first read, one person) starts in this process and moves there only if it turns
    out large."""
    if job.settings.client == "libldap":
        return InProcessReader(job)
    if since is None and request.only is None and request.known_users > SMALL_READ:
        return PageReader(job)
    return SmallFirstReader(job, SMALL_READ)


def _parenthesised(search_filter: str) -> str:
    text = search_filter.strip()
    return text if text.startswith("(") else f"({text})"
