"""The console's second factor (SPEC §19): TOTP (RFC 6238), recovery codes, and the operator's
`accounts reset-mfa`. Passkeys are sync.services.passkeys.

A TOTP code is accepted for its own 30-second step and the one either side (clock drift), and
each step once: the factor keeps the last step used, and a code of that step or an earlier one
is refused. The secret is stored sealed (sync.services.sealed). Recovery codes are stored as
argon2id hashes, like passwords, and each works once.
Every enrolment, verification and failure is an audit event of the account, by its holder.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from sqlalchemy import Connection, Engine

from sync.config.settings import TenantSettings
from sync.model.actor import Actor
from sync.services.accounts import load_account
from sync.services.passwords import hash_password, verify_password
from sync.services.sealed import SecretBox
from sync.store import audit
from sync.store import console_auth as stored
from sync.store.audit import Event
from sync.store.engine import writing

TOTP, PASSKEY, RECOVERY = "totp", "passkey", "recovery_code"
STEP_SECONDS = 30  # RFC 6238's default, what every authenticator app uses
DRIFT_STEPS = 1  # a code of the step before or after is accepted too
RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REUSED = "reused"  # a right code, already used within its window


@dataclass(frozen=True)
class Holder:
    """The account a second factor belongs to."""

    tenant_id: str
    account_id: int
    name: str

    @property
    def actor(self) -> Actor:
        return Actor.admin(self.name)


@dataclass(frozen=True)
class Factors:
    totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0


def required(tenant: TenantSettings, role: str) -> bool:
    """Whether the tenant makes accounts of this privilege give a second factor."""
    return role in tenant.console.require_mfa_for


def owed(engine: Engine, tenant: TenantSettings, holder: Holder, role: str) -> bool:
    """Whether signing in asks this account for a second factor: the tenant requires one of
    its privilege, or the account enrolled one anyway (then it is asked like any other)."""
    return required(tenant, role) or factors_of(engine, holder).any


def factors_of(engine: Engine, holder: Holder) -> Factors:
    with engine.connect() as conn:
        rows = stored.factors(conn, holder.tenant_id, holder.account_id)
        codes = stored.unused_recovery_codes(conn, holder.tenant_id, holder.account_id)
    confirmed = [r for r in rows if r["confirmed_at"] is not None]
    return Factors(
        totp=any(r["kind"] == TOTP for r in confirmed),
        passkeys=sum(r["kind"] == PASSKEY for r in confirmed),
        recovery_codes_left=len(codes),
    )


def record(conn: Connection, holder: Holder, action: str, factor: str, now: datetime) -> None:
    """An audit event of the holder's account: which factor, never a code or a secret."""
    event = Event(holder.account_id, holder.name, action, {"factor": (None, factor)})
    audit.record(conn, holder.tenant_id, holder.actor, [event], now)


# TOTP


def begin_totp(
    engine: Engine, box: SecretBox, holder: Holder, issuer: str, now: datetime
) -> tuple[str, str]:
    """A new TOTP secret waiting for its first code (an earlier one still waiting is dropped);
    returns the secret and its otpauth:// URI, to show once. It is stored sealed by `box`."""
    secret = pyotp.random_base32()
    with writing(engine) as conn:
        stored.delete_pending_factors(conn, holder.tenant_id, holder.account_id, TOTP)
        stored.add_factor(conn, factor_row(holder, TOTP, now, secret=box.seal(secret)))
    uri = pyotp.TOTP(secret).provisioning_uri(name=holder.name, issuer_name=issuer)
    return secret, uri


def pending_totp(
    engine: Engine, box: SecretBox, holder: Holder, issuer: str
) -> tuple[str, str] | None:
    """The TOTP secret still waiting for its first code and its URI (a wrong first code shows
    the same secret again: the app has already scanned it), or None."""
    with engine.connect() as conn:
        rows = stored.factors(conn, holder.tenant_id, holder.account_id)
    pending = [r for r in rows if r["kind"] == TOTP and r["confirmed_at"] is None]
    secret = box.open(pending[-1]["secret"]) if pending else None
    if secret is None:
        return None
    return secret, pyotp.TOTP(secret).provisioning_uri(name=holder.name, issuer_name=issuer)


def confirm_totp(
    engine: Engine, box: SecretBox, holder: Holder, code: str, now: datetime
) -> list[str] | None:
    """Enrols the waiting TOTP secret when `code` is its current code. Returns the recovery
    codes to show when this is the account's first factor (an empty list when it had one), or
    None for a wrong code (audited as a failure)."""
    with writing(engine) as conn:
        rows = stored.factors(conn, holder.tenant_id, holder.account_id)
        pending = [r for r in rows if r["kind"] == TOTP and r["confirmed_at"] is None]
        step = _matching_step(box.open(pending[-1]["secret"]), code, now) if pending else None
        if step is None:
            record(conn, holder, "mfa_enrol_failed", TOTP, now)
            return None
        first = not any(r["confirmed_at"] is not None for r in rows)
        stored.change_factor(conn, pending[-1]["id"], confirmed_at=now, last_step=step, used_at=now)
        record(conn, holder, "mfa_enrolled", TOTP, now)
        return new_recovery_codes(conn, holder, now) if first else []


def verify_totp(
    engine: Engine, box: SecretBox, holder: Holder, code: str, now: datetime
) -> Verdict:
    """Checks a code against the account's TOTP factors; a step is used once."""
    with writing(engine) as conn:
        rows = stored.factors(conn, holder.tenant_id, holder.account_id)
        verdict = Verdict.WRONG
        for row in rows:
            if row["kind"] != TOTP or row["confirmed_at"] is None:
                continue
            step = _matching_step(box.open(row["secret"]), code, now)
            if step is None:
                continue
            claimed = stored.claim_totp_step(conn, row["id"], step, now)
            verdict = Verdict.ACCEPTED if claimed else Verdict.REUSED
            break
        action = "mfa_verified" if verdict == Verdict.ACCEPTED else "mfa_failed"
        record(conn, holder, action, TOTP, now)
        return verdict


def _matching_step(secret: str | None, code: str, now: datetime) -> int | None:
    """The time-step whose code `code` is, among now's and its neighbours; None if none (or
    the secret could not be opened)."""
    code = "".join(code.split())
    if secret is None or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def factor_row(holder: Holder, kind: str, now: datetime, **values: object) -> dict[str, object]:
    return {
        "tenant_id": holder.tenant_id,
        "account_id": holder.account_id,
        "kind": kind,
        "sign_count": 0,
        "created_at": now,
        **values,
    }


# recovery codes


def new_recovery_codes(conn: Connection, holder: Holder, now: datetime) -> list[str]:
    """Ten new single-use codes, returned to show once and stored hashed; the old ones stop
    working."""
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    hashes = [hash_password(code) for code in codes]
    stored.replace_recovery_codes(conn, holder.tenant_id, holder.account_id, hashes, now)
    record(conn, holder, "mfa_recovery_codes_created", RECOVERY, now)
    return codes


def renew_recovery_codes(engine: Engine, holder: Holder, now: datetime) -> list[str]:
    with writing(engine) as conn:
        return new_recovery_codes(conn, holder, now)


def use_recovery_code(engine: Engine, holder: Holder, code: str, now: datetime) -> bool:
    """True when `code` is one of the account's unused recovery codes, which it uses up."""
    typed = _normalised(code)
    with writing(engine) as conn:
        rows = stored.unused_recovery_codes(conn, holder.tenant_id, holder.account_id)
        # one argon2id verification per unused code: at most ten, only on this rare path
        match = next((r for r in rows if typed and verify_password(r["code_hash"], typed)), None)
        accepted = match is not None and stored.claim_recovery_code(conn, match["id"], now)
        record(conn, holder, "mfa_verified" if accepted else "mfa_failed", RECOVERY, now)
        return accepted


def _recovery_code() -> str:
    letters = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{letters[:5]}-{letters[5:]}"


def _normalised(code: str) -> str:
    """A code as typed: case, spaces and the dash do not matter."""
    letters = "".join(c for c in code.lower() if c.isalnum())
    return f"{letters[:5]}-{letters[5:]}" if len(letters) == 10 else ""


# the operator's reset


def reset_mfa(engine: Engine, tenant_id: str, name: str, actor: Actor, now: datetime) -> Holder:
    """Removes the account's second factors and recovery codes and ends its console sessions
    (`accounts reset-mfa`): its next sign-in enrols anew. Audited as `mfa_reset` by `actor`."""
    with writing(engine) as conn:
        account = load_account(conn, tenant_id, name)
        holder = Holder(tenant_id, account.id, account.name)
        removed = stored.delete_factors(conn, tenant_id, account.id)
        codes = stored.delete_recovery_codes(conn, tenant_id, account.id)
        ended = stored.delete_account_sessions(conn, tenant_id, account.id)
        fields = {"factors": (removed, 0), "recovery_codes": (codes, 0), "sessions": (ended, 0)}
        event = Event(account.id, account.name, "mfa_reset", fields)
        audit.record(conn, tenant_id, actor, [event], now)
    return holder
