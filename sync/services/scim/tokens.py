"""The bearer token an identity provider presents for a tenant (SPEC §17): issued or rotated
by `tenants scim-token`, shown once, kept only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Engine

from sync.config.settings import TenantSettings
from sync.errors import UsageError
from sync.services.tenants import current_tenant
from sync.sources.settings import ScimSourceSettings
from sync.store.engine import writing
from sync.store.scim import save_token, token_hash
from sync.timeutil import utc_now

# compared against when the tenant has no token, so a refusal takes as long either way
_NO_TOKEN = hashlib.sha256(b"clomo-sync: no SCIM token").hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: Engine, tenant_id: str) -> str:
    """A new token for the tenant, replacing any earlier one; the caller shows it once."""
    found = current_tenant(engine, tenant_id)
    if found is None:
        raise UsageError(f"unknown tenant {tenant_id!r}")
    if found[0].source.kind != "scim":
        raise UsageError(
            f"tenant {tenant_id!r} has source kind {found[0].source.kind!r}; a SCIM token is "
            'for a tenant whose [tenants.source] has kind = "scim"'
        )
    token = secrets.token_urlsafe(32)  # 256 bits
    with writing(engine) as conn:
        save_token(conn, tenant_id, _digest(token), utc_now())
    return token


def authorized(engine: Engine, tenant_id: str, presented: str | None) -> TenantSettings | None:
    """The tenant, when `presented` is its current token and it takes SCIM pushes; else None
    (an unknown tenant, another tenant's token and no token look alike)."""
    found = current_tenant(engine, tenant_id)
    with engine.connect() as conn:
        stored = token_hash(conn, tenant_id) if found else None
    same = hmac.compare_digest(_digest(presented or ""), stored or _NO_TOKEN)
    if found is None or stored is None or not presented or not same:
        return None
    tenant = found[0]
    return tenant if tenant.source.kind == "scim" else None


def requests_per_minute(tenant: TenantSettings) -> int:
    """The tenant's own SCIM rate limit (a `scim` source's key; `authorized` lets only those in)."""
    assert isinstance(tenant.source, ScimSourceSettings)
    return tenant.source.scim_requests_per_minute
