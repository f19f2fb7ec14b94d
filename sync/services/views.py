"""Reads for screens (STYLE.md 7b): what `accounts list|show|history`, `runs list`, `tenants
list|history` and the console's pages show. Plain queries through the store, each on its own
connection; nothing here changes anything."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from sync.model import Account
from sync.model.tenant import StoredTenant, TenantVersion
from sync.services.accounts import load_account
from sync.store import accounts as stored_accounts
from sync.store import audit, runs, tenants
from sync.store.accounts import AccountFilter, Credentials

__all__ = [
    "AccountFilter",
    "Credentials",
    "account",
    "account_detail",
    "account_history",
    "account_page",
    "account_rows",
    "credentials",
    "recent_runs",
    "stored_tenant",
    "stored_tenants",
    "tenant_history",
]


def account_rows(engine: Engine, tenant_id: str, name: str | None = None) -> list[dict[str, Any]]:
    """Accounts as `accounts list|show` print them (one, by name, when `name` is given)."""
    with engine.connect() as conn:
        return stored_accounts.account_rows(conn, tenant_id, name)


def account_page(
    engine: Engine, tenant_id: str, wanted: AccountFilter, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    with engine.connect() as conn:
        return stored_accounts.account_page(conn, tenant_id, wanted, after, limit)


def account(engine: Engine, tenant_id: str, name: str) -> Account:
    """The tenant's account of that name (any case); Refused when there is none."""
    with engine.connect() as conn:
        return load_account(conn, tenant_id, name)


def account_history(engine: Engine, tenant_id: str, name: str) -> list[dict[str, Any]]:
    """Every event of the account, oldest first; Refused when there is no such account."""
    with engine.connect() as conn:
        account = load_account(conn, tenant_id, name)
        return audit.account_history(conn, tenant_id, account.id)


def account_detail(
    engine: Engine, tenant_id: str, name: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The account's row and its history; None when there is no such account."""
    with engine.connect() as conn:
        rows = stored_accounts.account_rows(conn, tenant_id, name)
        if not rows:
            return None
        account = load_account(conn, tenant_id, name)
        return rows[0], audit.account_history(conn, tenant_id, account.id)


def credentials(
    engine: Engine, tenant_id: str, *, name: str | None = None, account_id: int | None = None
) -> Credentials | None:
    """What signing in to the console checks of an account, by name or by id."""
    with engine.connect() as conn:
        return stored_accounts.credentials(conn, tenant_id, name=name, account_id=account_id)


def recent_runs(engine: Engine, tenant_id: str | None, limit: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return runs.recent_reports(conn, tenant_id, limit)


def stored_tenants(engine: Engine) -> list[StoredTenant]:
    with engine.connect() as conn:
        return tenants.stored_tenants(conn)


def stored_tenant(engine: Engine, tenant_id: str) -> StoredTenant | None:
    with engine.connect() as conn:
        return tenants.stored_tenant(conn, tenant_id)


def tenant_history(engine: Engine, tenant_id: str) -> list[TenantVersion]:
    with engine.connect() as conn:
        return tenants.tenant_history(conn, tenant_id)
