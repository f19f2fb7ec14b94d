"""Console sessions and sign-in limits, kept in the store (SPEC §15: two `web` processes
behind one address share them, and a restart signs nobody out).

The browser holds a random id; the store keeps only its SHA-256, so a copy of the database
opens no session. A session ends when unused for `session_idle_minutes`, at the latest
`session_max_hours` after signing in, and at once on signing out or `accounts reset-mfa`.

Sign-in attempts are rows with their time: the per-address limit and the per-name lockout
count the rows of their moving window, so a burst at a window's edge cannot double the rate,
and rows older than the window are purged as new ones come.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import RateLimitItem, parse
from sqlalchemy import Connection, Engine

from sync.store import console_auth as stored
from sync.store.engine import writing
from sync.timeutil import as_utc

DONE, NEEDED = "done", "needed"  # the session's second factor: given, or still to give
STALE_SWEEP = 0.01  # share of sign-ins that also delete every expired session


@dataclass(slots=True)
class Session:
    id: str  # the cookie's value; only its SHA-256 is stored
    tenant_id: str
    account_id: int
    started: datetime
    seen: datetime
    second_factor_done: bool
    via: str = "password"  # or "oidc": single sign-on, which needs no password on the account
    challenge: str | None = None  # a WebAuthn ceremony in progress (base64url)


class SignInLimited(Exception):
    """Too many sign-in attempts from one client address, or failed ones of one name."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _at(now: datetime | float) -> datetime:
    """A moment given as a datetime, or as seconds since the epoch."""
    if isinstance(now, datetime):
        return as_utc(now)
    return datetime.fromtimestamp(now, tz=UTC)


class Sessions:
    """Console sessions in the store: `start`, `find`, `end`, and the few changes the second
    factor makes to one."""

    def __init__(self, engine: Engine, idle_seconds: float, max_seconds: float) -> None:
        self.engine = engine
        self.idle = timedelta(seconds=idle_seconds)
        self.longest = timedelta(seconds=max_seconds)

    def start(
        self,
        tenant_id: str,
        account_id: int,
        now: datetime | float,
        via: str = "password",
        *,
        second_factor_done: bool = False,
    ) -> Session:
        """A new session; `second_factor_done` when the sign-in itself stood for the second
        factor (single sign-on: the identity provider's own, SPEC §19)."""
        at = _at(now)
        session = Session(secrets.token_urlsafe(32), tenant_id, account_id, at, at,
                          second_factor_done, via)  # fmt: skip
        with writing(self.engine) as conn:
            if secrets.randbelow(int(1 / STALE_SWEEP)) == 0:
                stored.delete_stale_sessions(conn, at - self.idle, at - self.longest)
            stored.add_session(
                conn,
                {
                    "id_hash": digest(session.id),
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "started_at": at,
                    "seen_at": at,
                    "second_factor": DONE if second_factor_done else NEEDED,
                    "via": via,
                },
            )
        return session

    def find(self, session_id: str | None, now: datetime | float) -> Session | None:
        """The live session of that id, marked as used now; None when unknown or expired."""
        if not session_id:
            return None
        at, key = _at(now), digest(session_id)
        with writing(self.engine) as conn:
            row = stored.session_row(conn, key)
            if row is None:
                return None
            started, seen = as_utc(row["started_at"]), as_utc(row["seen_at"])
            if at - seen > self.idle or at - started > self.longest:
                stored.delete_session(conn, key)
                return None
            stored.touch_session(conn, key, at)
        return Session(session_id, row["tenant_id"], row["account_id"], started, at,
                       row["second_factor"] == DONE, row["via"], row["challenge"])  # fmt: skip

    def end(self, session_id: str | None) -> None:
        if not session_id:
            return
        with writing(self.engine) as conn:
            stored.delete_session(conn, digest(session_id))

    def second_factor_given(self, session: Session) -> None:
        with writing(self.engine) as conn:
            stored.change_session(conn, digest(session.id), second_factor=DONE, challenge=None)
        session.second_factor_done, session.challenge = True, None

    def keep_challenge(self, session: Session, challenge: str | None) -> None:
        """The WebAuthn challenge of the ceremony this session started (None: used up)."""
        with writing(self.engine) as conn:
            stored.change_session(conn, digest(session.id), challenge=challenge)
        session.challenge = challenge


class SignInLimits:
    """Sign-in attempts per client address (`signin_limit`) and failed sign-ins per account
    name (`signin_lockout`), counted in the store."""

    def __init__(self, engine: Engine, signin_limit: str, lockout: str) -> None:
        self.engine = engine
        self.per_address = parse(signin_limit)
        self.lockout = parse(lockout)

    def attempt(self, address: str, now: datetime) -> None:
        """Counts one sign-in attempt from `address`; SignInLimited past the limit."""
        with writing(self.engine) as conn:
            _claim(conn, "signin", self.per_address, address, now)

    def begin_try(self, key: str, now: datetime) -> int:
        """Counts a sign-in try of `tenant/name key` (a password or a second factor) as failed
        before its answer is checked, and returns its row for `passed`; SignInLimited while the
        name is locked out. Counting first, under the pair's lock, is what keeps a burst of
        parallel guesses to the lockout's number: checking the count and adding a failure
        afterwards let every guess of the burst through. Unknown names are counted alike, so a
        lockout says nothing about whether the account exists."""
        with writing(self.engine) as conn:
            return _claim(conn, "failed", self.lockout, key, now)

    def passed(self, row: int) -> None:
        """The try counted by `begin_try` was right: it no longer counts as a failure."""
        with writing(self.engine) as conn:
            stored.delete_attempt(conn, row)


def _claim(conn: Connection, kind: str, item: RateLimitItem, key: str, now: datetime) -> int:
    """Adds an attempt of `kind` for `key` and returns its row; SignInLimited, and nothing
    added, once the window holds the limit's number."""
    stored.serialize_attempts(conn, kind, key)
    stored.purge_attempts(conn, kind, now - _window(item))
    wait = _wait(conn, kind, item, key, now)
    if wait is not None:
        raise SignInLimited(wait)
    return stored.add_attempt(conn, kind, key, now)


def _window(item: RateLimitItem) -> timedelta:
    return timedelta(seconds=item.get_expiry())


def _wait(conn: Connection, kind: str, item: RateLimitItem, key: str, now: datetime) -> int | None:
    """None while the window holds fewer than the limit's attempts; else the seconds until its
    oldest attempt leaves it."""
    count, oldest = stored.attempts_since(conn, kind, key, now - _window(item))
    if count < item.amount:
        return None
    left = (as_utc(oldest) + _window(item) - now).total_seconds()
    return max(1, math.ceil(left))
