"""CLOMO passwords: argon2id hashes, set by an administrator (SPEC §6).

Federated accounts (`google`, `saml`) sign in elsewhere and never get a CLOMO password.
"""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from sync.model import Account
from sync.model.actor import Actor
from sync.services.accounts import load_account
from sync.services.policy import Refused, password_problems
from sync.store import audit
from sync.store.accounts import set_password_hash
from sync.store.audit import Event
from sync.store.tokens import revoke_tokens

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4)
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(account_name: str, role: str, password: str) -> None:
    """Refused with every problem at once when the policy does not allow the password."""
    problems = password_problems(password, account_name, role)
    if problems:
        raise Refused(f"password for {account_name!r} refused: " + "; ".join(problems))


def password_event(account_id: int, name: str) -> Event:
    """The audit's record of a new password: that it was set, never what it is."""
    return Event(account_id, name, "password_set", {"password_set": (None, True)})


def require_password_account(account: Account) -> None:
    if account.auth_type != "password":
        raise Refused(
            f"account {account.name!r} signs in with {account.auth_type}: it has no CLOMO password"
        )


def set_password(
    conn: Connection, tenant_id: str, name: str, password: str, now: datetime, actor: Actor
) -> str:
    """Sets the account's password in the caller's transaction; returns the account's name.
    Outstanding reset links stop working: the administrator has just chosen the password."""
    account = load_account(conn, tenant_id, name)
    require_password_account(account)
    check_password(account.name, account.role, password)
    digest = hash_password(password)
    set_password_hash(conn, account.id, digest, now)
    revoke_tokens(conn, [account.id], now)
    audit.record(conn, tenant_id, actor, [password_event(account.id, account.name)], now)
    return account.name
