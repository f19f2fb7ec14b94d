"""Reading accounts and the names they hold."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    func,
    or_,
    select,
    update,
)

from sync.model import (
    NO_DATES,
    PROFILE_FIELDS,
    Account,
    AccountState,
    AccountStatus,
    Dates,
    Profile,
    ProfileValues,
)
from sync.model.grants import NO_GRANT_KEY, Grant
from sync.model.names import name_key
from sync.store.schema import accounts, released_names
from sync.timeutil import as_utc

BATCH = 5000


def inserted_after(after_id: int) -> CTE:
    """The accounts with ids above `after_id` (a batch a run has just inserted), found by the
    primary key alone. With the tenant in the same WHERE, a planner without statistics (a new
    store's first run) took the tenant's index instead and read all of the tenant's accounts
    again for every batch: quadratic, on PostgreSQL and SQLite alike. MATERIALIZED keeps the
    tenant's condition out of this part."""
    new = accounts.c
    found = select(new.id, new.tenant_id, new.source_id, new.name, new.primary_email,
                   new.created_at).where(new.id > after_id)  # fmt: skip
    return found.cte("inserted").prefix_with("MATERIALIZED")


def load_states(
    conn: Connection, tenant_id: str, source_ids: Collection[str] | None = None
) -> dict[str, AccountState]:
    """Every account of the tenant by source id (or those of `source_ids`), as the plan sees
    it: a few short fields each, fetched in batches (a server-side cursor on PostgreSQL), so
    100,000 accounts stay small."""
    which = [accounts.c.tenant_id == tenant_id]
    if source_ids is not None:
        which.append(accounts.c.source_id.in_(sorted(source_ids)))
    return _states(conn, which)


def due_states(
    conn: Connection, tenant_id: str, today: date, invite_until: date | None
) -> dict[str, AccountState]:
    """The live accounts whose stored dates may act on `today` (SPEC §16's sweep): past their
    end date, pending with their start date come, or (unless `invite_until` is None: a tenant
    that sends no invitations) owed an invitation for a start date up to `invite_until`. A
    superset: the plan decides each exactly."""
    c = accounts.c
    due = or_(
        c.end_date < today,
        and_(c.status == AccountStatus.PENDING, c.start_date <= today),
    )
    if invite_until is not None:
        owed = and_(c.invited.is_(False), c.password_hash.is_(None))
        due = or_(due, and_(c.start_date <= invite_until, owed))
    live = c.status != AccountStatus.DISABLED
    return _states(conn, [c.tenant_id == tenant_id, live, due])


def count_active(conn: Connection, tenant_id: str) -> int:
    """The tenant's active accounts (the guards' percent bounds count from them)."""
    c = accounts.c
    query = select(func.count()).where(c.tenant_id == tenant_id, c.status == AccountStatus.ACTIVE)
    return int(conn.execute(query).scalar_one())


def _states(conn: Connection, which: list[ColumnElement[bool]]) -> dict[str, AccountState]:
    """The accounts `which` selects, in one query read a batch at a time. An account's address
    and display name come only where its start date may owe it an invitation (the CASE leaves
    the others NULL): most accounts need neither, and every run reads all of the tenant's."""
    streamed = conn.execution_options(stream_results=True, yield_per=BATCH)
    states: dict[str, AccountState] = {}
    # an HR source dates everyone, and whole cohorts share a hire date: one Dates each
    shared: dict[tuple[date | None, date | None], Dates] = {NO_DATES: NO_DATES}
    for source_id, start, end, address, display_name, *columns in streamed.execute(
        _STATE_QUERY.where(*which)
    ):
        dates = shared.get((start, end)) or shared.setdefault((start, end), Dates(start, end))
        states[source_id] = _state(dates, address, display_name, *columns)
    return states


_c = accounts.c
_STATE_QUERY = select(
    _c.source_id,
    _c.start_date,
    _c.end_date,
    case((_c.start_date.is_not(None), _c.primary_email)),
    case((_c.start_date.is_not(None), _c.display_name)),
    _c.id,
    _c.name,
    _c.composed_name,
    _c.status,
    _c.name_locked,
    _c.profile_digest,
    _c.password_hash.is_not(None),
    _c.invited,
    _c.invite_failed_to,
    _c.role,
    _c.role_scheme,
    _c.role_group,
    _c.role_by_hand,
)


def _state(
    dates: Dates,
    address: str | None,
    display_name: str | None,
    id_: int,
    name: str,
    composed: str | None,
    status: str,
    locked: bool,
    digest: str,
    password_set: bool,
    invited: bool,
    failed_to: str | None,
    role: str,
    scheme: str | None,
    group: str | None,
    by_hand: bool,
) -> AccountState:
    # the composed name is nearly always the name itself: one string serves both
    composed = name if composed == name else composed
    # nearly every account holds no privilege: one shared key, no Grant built
    plain = role == "none" and scheme is None and group is None and not by_hand
    grant = NO_GRANT_KEY if plain else Grant(role, scheme, group).key(bool(by_hand))
    active = status == AccountStatus.ACTIVE
    # SPEC §16: for an account whose invitation waits for its day, the profile to send it to
    # (the date sweep has no directory entry to take it from)
    owed = dates.start is not None and not (password_set or invited)
    profile = Profile(primary_email=address, display_name=display_name) if owed else None
    return AccountState(id_, name, composed, active, bool(locked), digest, bool(password_set),
                        bool(invited), None if invited else failed_to, grant,
                        status == AccountStatus.PENDING, dates, profile)  # fmt: skip


def stored_profiles(conn: Connection, account_ids: Collection[int]) -> dict[int, ProfileValues]:
    """The stored profile of each of these accounts (what an update would overwrite)."""
    found: dict[int, ProfileValues] = {}
    ids = sorted(account_ids)
    columns = [accounts.c[name] for name in PROFILE_FIELDS]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        query = select(accounts.c.id, *columns).where(accounts.c.id.in_(chunk))
        for row in conn.execute(query):
            stored = {name: row._mapping[accounts.c[name]] for name in PROFILE_FIELDS}
            stored["emails"] = tuple(json.loads(stored["emails"])) if stored["emails"] else ()
            found[row.id] = ProfileValues(**stored)
    return found


def released_names_since(conn: Connection, tenant_id: str, since: datetime) -> dict[str, int]:
    """Names released by a rename since `since` (the quarantine): name key -> the account that
    released it."""
    query = select(released_names.c.name_key, released_names.c.account_id).where(
        released_names.c.tenant_id == tenant_id, released_names.c.released_at >= since
    )
    return {key: int(account_id) for key, account_id in conn.execute(query)}


def released_to(conn: Connection, tenant_id: str, since: datetime) -> dict[str, str]:
    """Names released since `since` (the quarantine): name key -> the source id of the account
    that released it (the one plan of one person has not loaded every account)."""
    query = (
        select(released_names.c.name_key, accounts.c.source_id)
        .join(accounts, accounts.c.id == released_names.c.account_id)
        .where(released_names.c.tenant_id == tenant_id, released_names.c.released_at >= since)
    )
    return {key: source_id for key, source_id in conn.execute(query)}


class AskedNames(MutableMapping[str, tuple[str, str]]):
    """The tenant's held names (name key -> (source id, name)) for a plan of one person
    (explain, `sync --only`): each asked of the store when first looked up and kept, not the
    tenant's 100,000 read at once; its length is the tenant's number of accounts (the collision
    search's bound). What is set is kept here only."""

    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self.engine, self.tenant_id = engine, tenant_id
        self.known: dict[str, tuple[str, str] | None] = {}
        self.count: int | None = None

    def __getitem__(self, key: str) -> tuple[str, str]:
        if key not in self.known:
            where = (accounts.c.tenant_id == self.tenant_id, accounts.c.name_key == key)
            with self.engine.connect() as conn:
                row = conn.execute(select(accounts.c.source_id, accounts.c.name).where(*where))
                found = row.first()
            self.known[key] = None if found is None else (found.source_id, found.name)
        held = self.known[key]
        if held is None:
            raise KeyError(key)
        return held

    def __setitem__(self, key: str, value: tuple[str, str]) -> None:
        self.known[key] = value

    def __delitem__(self, key: str) -> None:
        self.known[key] = None

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the held names of a one-person plan are asked for by key only")

    def __len__(self) -> int:
        if self.count is None:
            query = select(func.count()).where(accounts.c.tenant_id == self.tenant_id)
            with self.engine.connect() as conn:
                self.count = int(conn.execute(query).scalar_one())
        return self.count


def accounts_known_as(conn: Connection, tenant_id: str, typed: str) -> list[tuple[str, str]]:
    """(source id, name) of the accounts `typed` (NFKC already) names, by name, source id,
    primary address or employee code, without regard to case (SPEC §18)."""
    folded = typed.casefold()
    c = accounts.c
    query = (
        select(c.source_id, c.name)
        .where(
            c.tenant_id == tenant_id,
            or_(
                c.name_key == name_key(typed),
                c.source_id.in_({typed, folded}),
                func.lower(c.primary_email) == folded,
                func.lower(c.employee_code) == folded,
            ),
        )
        .order_by(c.name_key)
    )
    return [(row.source_id, row.name) for row in conn.execute(query)]


def load_account(conn: Connection, tenant_id: str, name: str) -> Account | None:
    """The tenant's account of that name (case-insensitive), or None."""
    row = conn.execute(
        select(accounts).where(
            accounts.c.tenant_id == tenant_id, accounts.c.name_key == name_key(name)
        )
    ).first()
    if row is None:
        return None
    return Account(
        row.id,
        row.tenant_id,
        row.name,
        row.source_id,
        row.status,
        row.auth_type,
        row.role,
        row.role_scheme,
        row.primary_email,
        tuple(json.loads(row.emails)),
        row.display_name,
        row.memo,
        bool(row.name_locked),
        bool(row.role_by_hand),
    )


def update_account(conn: Connection, account_id: int, values: dict[str, Any]) -> None:
    """Sets the given columns of one account (an administrator's edit)."""
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


def set_password_hash(
    conn: Connection, account_id: int, digest: str, now: datetime, *, only_if_active: bool = False
) -> bool:
    """Stores a new password hash; False when the account is gone (or disabled, if asked)."""
    query = update(accounts).where(accounts.c.id == account_id)
    if only_if_active:  # a pending account's invitation sets its password before its first day
        query = query.where(accounts.c.status != AccountStatus.DISABLED)
    return conn.execute(query.values(password_hash=digest, updated_at=now)).rowcount == 1


def name_holder(conn: Connection, tenant_id: str, name: str) -> tuple[str, str] | None:
    """(source id, name) of the account holding `name` (case-insensitive), or None."""
    held = conn.execute(
        select(accounts.c.source_id, accounts.c.name).where(
            accounts.c.tenant_id == tenant_id, accounts.c.name_key == name_key(name)
        )
    ).first()
    return None if held is None else (held.source_id, held.name)


def quarantined_for(conn: Connection, tenant_id: str, name: str, since: datetime) -> str | None:
    """The source id of the account that released `name` at or after `since`, or None."""
    released = conn.execute(
        select(accounts.c.source_id)
        .join(released_names, released_names.c.account_id == accounts.c.id)
        .where(
            released_names.c.tenant_id == tenant_id,
            released_names.c.name_key == name_key(name),
            released_names.c.released_at >= since,
        )
    ).first()
    return None if released is None else str(released.source_id)


def account_rows(conn: Connection, tenant_id: str, name: str | None = None) -> list[dict[str, Any]]:
    """Accounts as `accounts list/show` print them; never a hash or a token."""
    query = select(accounts).where(accounts.c.tenant_id == tenant_id).order_by(accounts.c.name_key)
    if name is not None:
        query = query.where(accounts.c.name_key == name_key(name))
    return [public_view(row._mapping) for row in conn.execute(query)]


def public_view(row: Any) -> dict[str, Any]:
    return {
        "name": row["name"],
        "status": row["status"],
        "source_id": row["source_id"],
        "primary_email": row["primary_email"],
        "emails": json.loads(row["emails"]),
        "employee_code": row["employee_code"],
        "display_name": row["display_name"],
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "auth_type": row["auth_type"],
        "role": row["role"],
        "role_scheme": row["role_scheme"],
        "memo": row["memo"],
        "name_locked": bool(row["name_locked"]),
        "password_set": row["password_hash"] is not None,
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "start_date": _day(row["start_date"]),
        "end_date": _day(row["end_date"]),
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat()


def quarantine_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the console's sign-in and each of its requests check of an account."""

    account_id: int
    tenant_id: str
    name: str
    status: str
    role: str
    password_hash: str | None


def credentials(
    conn: Connection, tenant_id: str, *, name: str | None = None, account_id: int | None = None
) -> Credentials | None:
    """The tenant's account by name (case-insensitive) or by id, for signing in; or None."""
    query = select(
        accounts.c.id,
        accounts.c.tenant_id,
        accounts.c.name,
        accounts.c.status,
        accounts.c.role,
        accounts.c.password_hash,
    ).where(accounts.c.tenant_id == tenant_id)
    if name is not None:
        query = query.where(accounts.c.name_key == name_key(name))
    if account_id is not None:
        query = query.where(accounts.c.id == account_id)
    row = conn.execute(query).first()
    return None if row is None else Credentials(*row)


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """The console's account list: a search over name, addresses and display name, and exact
    status and privilege filters; None or "" leaves a filter out."""

    search: str | None = None
    status: str | None = None
    role: str | None = None


def account_page(
    conn: Connection, tenant_id: str, wanted: AccountFilter, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of accounts in name order, after the name key `after` (keyset paging on the
    (tenant_id, name_key) unique index, so page 1,000 costs what page 1 does); and the key to
    ask for the next page with, or None on the last."""
    query = (
        select(accounts)
        .where(accounts.c.tenant_id == tenant_id)
        .order_by(accounts.c.name_key)
        .limit(limit + 1)
    )
    if after:
        query = query.where(accounts.c.name_key > after)
    if wanted.status:
        query = query.where(accounts.c.status == wanted.status)
    if wanted.role:
        query = query.where(accounts.c.role == wanted.role)
    if wanted.search:
        pattern = "%" + _like_escaped(wanted.search.strip()) + "%"
        query = query.where(
            or_(
                accounts.c.name_key.like(name_key(pattern), escape="\\"),
                accounts.c.primary_email.ilike(pattern, escape="\\"),
                accounts.c.emails.ilike(pattern, escape="\\"),
                accounts.c.display_name.ilike(pattern, escape="\\"),
            )
        )
    rows = [row._mapping for row in conn.execute(query)]
    more = len(rows) > limit
    shown = rows[:limit]
    return [public_view(row) for row in shown], (shown[-1]["name_key"] if more else None)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
