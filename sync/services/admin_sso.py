"""Single sign-on for a tenant's administrators through its OpenID provider (SPEC §19).

`begin` makes the sign-in's secrets (state, nonce, PKCE verifier) and the provider's address to
send the browser to; the caller keeps them in a short-lived cookie. `finish` takes them back
with the provider's answer and says which account signs in, or why nobody does. A state is
spent by its first use in this process, so an answer replayed, even with its cookie, is
refused; the provider, for its part, takes each code once.

Only an active account of the tenant with an administrator privilege gets in; nobody is
created. The provider's own second factor stands in for the console's.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from sync.config.secrets import read_secret
from sync.config.settings import TenantConsoleOidcSettings, TenantSettings
from sync.errors import StopRun
from sync.ops import oidc
from sync.services.views import Credentials, credentials

PENDING_SECONDS = 600  # a sign-in not back from the provider within this is refused
MAX_SPENT = 100_000  # spent states kept until they would have expired anyway
MAX_NAME = 256
UNPRIVILEGED = (None, "none")


class Refused(Exception):
    """Nobody signs in. `reason` names the refusal for the page and the log: unavailable,
    not_configured, state, replayed, denied, token, signature, issuer, audience, nonce,
    expired, no_name, no_account, not_privileged."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Pending(BaseModel):
    """A sign-in sent to the provider, as its cookie carries it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1)
    state: str = Field(min_length=1)
    nonce: str = Field(min_length=1)
    verifier: str = Field(min_length=43, max_length=128)  # RFC 7636 §4.1
    issued: float  # seconds since the epoch

    @classmethod
    def read(cls, data: object) -> Pending | None:
        """The pending sign-in a cookie's (signature-checked) content holds, or None."""
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    name: str
    subject: str  # the provider's `sub`, for the log


def configured(tenant: TenantSettings, public_url: str | None) -> bool:
    """Whether the tenant's console offers single sign-on."""
    return tenant.console.oidc is not None and public_url is not None


def callback_url(public_url: str, tenant_id: str) -> str:
    return f"{public_url}/admin/{tenant_id}/oidc/callback"


def _client(tenant: TenantSettings, public_url: str | None) -> oidc.Client:
    settings: TenantConsoleOidcSettings | None = tenant.console.oidc
    if settings is None or public_url is None:
        raise Refused("not_configured", "single sign-on is not configured for this tenant")
    what = f"tenants.{tenant.id}.console.oidc.client_secret"
    try:
        secret = read_secret(what, settings.client_secret_env, settings.client_secret_file)
    except StopRun as exc:
        raise Refused("not_configured", str(exc)) from None
    if not secret:
        raise Refused("not_configured", f"{what}: not set")
    return oidc.Client(
        settings.issuer,
        settings.client_id,
        secret,
        callback_url(public_url, tenant.id),
        settings.ca_file,
    )


class AdminSso:
    """The states spent in this process (the web process's own, like its sessions)."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def begin(
        self, tenant: TenantSettings, public_url: str | None, now: float
    ) -> tuple[str, Pending]:
        """(the provider's authorization URL, the pending sign-in to keep in the cookie)."""
        client = _client(tenant, public_url)
        pending = Pending(
            tenant=tenant.id,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters: RFC 7636 wants 43 to 128
            issued=now,
        )
        try:
            provider = oidc.discover(client)
        except oidc.ProviderUnavailable as exc:
            raise Refused("unavailable", str(exc)) from None
        url = oidc.authorization_url(
            client, provider, pending.state, pending.nonce, pending.verifier
        )
        return url, pending

    def finish(
        self,
        engine: Engine,
        tenant: TenantSettings,
        public_url: str | None,
        pending: Pending | None,
        answer: Mapping[str, str],
        now: float,
    ) -> SignedIn:
        """The account the provider's answer (the callback's query) signs in; Refused else."""
        client = _client(tenant, public_url)
        pending = self._spend(tenant.id, pending, answer.get("state", ""), now)
        if "error" in answer:
            raise Refused("denied", f"the provider answered {answer['error'][:64]!r}")
        # RFC 9207: an answer naming another issuer came from another provider (a mix-up)
        if "iss" in answer and answer["iss"] != client.issuer:
            raise Refused("issuer", f"the answer's iss {answer['iss'][:200]!r} is not the issuer")
        code = answer.get("code", "")
        if not code:
            raise Refused("token", "the provider's answer has no code")
        claim = tenant.console.oidc.username_claim if tenant.console.oidc else ""
        name, subject = _identity(client, claim, code, pending, now)
        return _account(engine, tenant, name, subject)

    def _spend(self, tenant_id: str, pending: Pending | None, state: str, now: float) -> Pending:
        """The pending sign-in this answer belongs to, spent now: a foreign state (not the
        cookie's, another tenant's, or no cookie at all), an old one, or one used before is
        refused."""
        if pending is None or not state or pending.tenant != tenant_id:
            raise Refused("state", "no sign-in of this tenant is waiting in this browser")
        if not secrets.compare_digest(pending.state, state):
            raise Refused("state", "the state is not the one this browser was sent with")
        if not 0 <= now - pending.issued <= PENDING_SECONDS:
            raise Refused("state", "the sign-in took too long")
        with self._lock:
            if pending.state in self._spent:
                raise Refused("replayed", "this sign-in's answer was used already")
            if len(self._spent) >= MAX_SPENT:
                for old in [s for s, at in self._spent.items() if now - at > PENDING_SECONDS]:
                    del self._spent[old]
            self._spent[pending.state] = pending.issued
        return pending


def _identity(
    client: oidc.Client, claim: str, code: str, pending: Pending, now: float
) -> tuple[str, str]:
    """(the account name, the provider's subject) from the checked ID token: its `claim`, else
    the same claim from userinfo."""
    try:
        provider = oidc.discover(client)
        token = oidc.exchange(client, provider, code, pending.verifier)
        claims = oidc.verify_id_token(client, provider, token["id_token"], pending.nonce, int(now))
        subject = str(claims["sub"])
        name = claims.get(claim)
        if not isinstance(name, str) or not name:
            name = _userinfo(client, provider, token, subject).get(claim)
    except oidc.ProviderUnavailable as exc:
        raise Refused("unavailable", str(exc)) from None
    except oidc.TokenRefused as exc:
        raise Refused(exc.reason, str(exc)) from None
    if not isinstance(name, str) or not name.strip():
        raise Refused("no_name", f"neither the ID token nor userinfo has the claim {claim!r}")
    return name.strip(), subject


def _userinfo(
    client: oidc.Client, provider: oidc.Provider, token: Mapping[str, Any], subject: str
) -> dict[str, Any]:
    access = token.get("access_token")
    if not isinstance(access, str):
        return {}
    info = oidc.userinfo(client, provider, access)
    # userinfo about another person than the ID token's must not be believed (OIDC Core §5.3.2)
    if info.get("sub") != subject:
        raise oidc.TokenRefused("token", "userinfo's sub is not the ID token's")
    return info


def _account(engine: Engine, tenant: TenantSettings, name: str, subject: str) -> SignedIn:
    """Only an active account of the tenant with an administrator privilege; nobody is
    created."""
    found: Credentials | None = None
    if len(name) <= MAX_NAME:
        found = credentials(engine, tenant.id, name=name)
    if found is None:
        raise Refused("no_account", f"no account {name!r} in tenant {tenant.id}")
    if found.status != "active" or found.role in UNPRIVILEGED:
        raise Refused(
            "not_privileged",
            f"account {found.name!r} is {found.status} with privilege {found.role or 'none'}",
        )
    return SignedIn(found.account_id, found.name, subject)
