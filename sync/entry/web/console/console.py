"""What every console page shares: who is signed in, what they may do, and the page around it.

Each request looks the administrator's account up again, so a privilege taken away, a disabled
account or a removed password ends the session at the next click. A session belongs to one
tenant: on another tenant's pages its holder is a stranger and is sent to that tenant's sign-in.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from itsdangerous import URLSafeSerializer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.config.settings import Settings, TenantSettings, WebSettings
from sync.entry.web.console.sessions import session_id
from sync.entry.web.render import form_page
from sync.entry.web.site import Site, site_of
from sync.model.actor import Actor
from sync.model.enums import Role
from sync.services import second_factor
from sync.services.admin_sso import AdminSso
from sync.services.console_auth import Session, Sessions, SignInLimits
from sync.services.passwords import hash_password
from sync.services.resync import Resyncs
from sync.services.sealed import SecretBox
from sync.services.views import Credentials, credentials

log = logging.getLogger(__name__)

MAX_TENANT_ID = 64


class Privilege(StrEnum):
    VIEW = "view"  # every screen, read-only
    ACCOUNTS = "accounts"  # edit accounts, set passwords, send reset links
    RESYNC = "resync"  # run the tenant now
    SETTINGS = "settings"  # preview and save the naming rule and authentication type
    CHANGES = "changes"  # approve or reject held change sets
    AUDIT = "audit"  # download the tenant's audit (system_admin only, as every privilege)


_EVERY = frozenset(Privilege)
_DAILY = frozenset({Privilege.VIEW, Privilege.ACCOUNTS, Privilege.RESYNC})
# docs/web.md: system_admin may do everything; the other privileges run the tenant day to day
# but change neither its rules nor what the guards held back
GRANTS: dict[str, frozenset[Privilege]] = {
    Role.SYSTEM_ADMIN: _EVERY,
    Role.DEPARTMENT_ADMIN: _DAILY,
    Role.OPERATOR: _DAILY,
    Role.CUSTOM_ADMIN: _DAILY,
}


def may_sign_in(found: Credentials | None) -> bool:
    """Only an active account with a console privilege and a password set may sign in."""
    return may_use_console(found) and found is not None and found.password_hash is not None


def may_use_console(found: Credentials | None) -> bool:
    """An active account with a console privilege: what single sign-on asks of an account (it
    needs no password), and what every request of its session checks again."""
    return found is not None and found.status == "active" and found.role in GRANTS


class Console:
    """The console's state: sessions and sign-in limits (in the store, shared by every `web`
    process), the dummy hash verified for unknown names, and the tenants a "resync now" this
    process started is running for."""

    def __init__(
        self, web: WebSettings, engine: Engine, secret: str, sealing_secret: str | None
    ) -> None:
        """`secret`: the web secret that signs cookies; `sealing_secret`: the same when it is
        configured, to seal TOTP secrets at rest (None when each process makes its own, which
        a restart would forget)."""
        idle, longest = web.session_idle_minutes * 60, web.session_max_hours * 3600
        self.box = SecretBox(sealing_secret)
        self.sessions = Sessions(engine, idle, longest)
        self.limits = SignInLimits(engine, web.signin_limit, web.signin_lockout)
        self.dummy_hash = hash_password("no account has this password")
        self.resyncs = Resyncs(_ask_fleet)
        self.sso = AdminSso()
        # signs the single sign-on's state cookie (sync.entry.web.console.oidc)
        self.sso_cookies = URLSafeSerializer(secret, salt="clomo-sync.entry.web.console.oidc")

    def resync(
        self, settings: Settings, tenant: TenantSettings, site: Site, *, follow_up: bool = False
    ) -> str:
        """ "resync now" through the resync service: queued for the fleet where workers serve
        this store, else run by this process ("started", or "running" when it already is).
        `follow_up` (a webhook saying the directory changed): the run starts once no other such
        call came for `[web] webhook_settle_seconds`, so a burst makes one run."""
        settle = settings.web.webhook_settle_seconds if follow_up else 0
        outcome = self.resyncs.ask(
            settings, site.engine, tenant.id, follow_up=follow_up, settle_seconds=settle
        )
        return outcome.value

    def running(self, tenant_id: str) -> bool:
        return self.resyncs.running(tenant_id)


def _ask_fleet(settings: Settings, engine: Engine, tenant_id: str) -> bool | None:
    from sync.entry.fleet.app import request_run

    return request_run(settings, engine, tenant_id)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


@dataclass(frozen=True)
class Admin:
    """The signed-in administrator of the tenant whose page this is."""

    site: Site
    console: Console
    tenant: TenantSettings
    session: Session
    account_id: int
    name: str
    role: str
    # the session owes a second factor (SPEC §19): only the second-factor pages open until it
    # has given one
    needs_second_factor: bool = False

    @property
    def actor(self) -> Actor:
        return Actor.admin(self.name)

    def may(self, privilege: Privilege) -> bool:
        return privilege in GRANTS.get(self.role, frozenset())

    def url(self, path: str = "") -> str:
        return f"/admin/{self.tenant.id}/{path}"

    @property
    def holder(self) -> second_factor.Holder:
        return second_factor.Holder(self.tenant.id, self.account_id, self.name)


def tenant_of(site: Site, tenant_id: str) -> TenantSettings | None:
    """The tenant's settings as the store holds them now (a save from the console, or a
    `tenants apply`, shows at the next click), or None for a tenant the store does not run."""
    if len(tenant_id) > MAX_TENANT_ID:
        return None
    from sync.services.tenants import current_tenant

    found = current_tenant(site.engine, tenant_id)
    return None if found is None else found[0]


def requested_tenant(request: Request) -> TenantSettings:
    tenant = tenant_of(site_of(request), request.path_params["tenant"])
    if tenant is None:
        raise HTTPException(404)
    return tenant


def now_seconds(site: Site) -> float:
    return site.clock().timestamp()


def _signed_in(request: Request, site: Site, tenant: TenantSettings) -> Admin | None:
    console = console_of(request)
    session = console.sessions.find(session_id(request), site.clock())
    if session is None or session.tenant_id != tenant.id:
        return None
    found = credentials(site.engine, tenant.id, account_id=session.account_id)
    allowed = may_use_console if session.via == "oidc" else may_sign_in
    if found is None or not allowed(found):
        console.sessions.end(session.id)
        return None
    holder = second_factor.Holder(tenant.id, found.account_id, found.name)
    owes = not session.second_factor_done and second_factor.owed(
        site.engine, tenant, holder, found.role
    )
    return Admin(site, console, tenant, session, found.account_id, found.name, found.role, owes)


Handler = Callable[[Request, Admin], Awaitable[Response]]


def console_page(needs: Privilege) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wraps a page: an unknown tenant is 404, a stranger goes to the tenant's sign-in, an
    administrator who owes a second factor to its page, one without the privilege gets 403."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            site = site_of(request)
            tenant = requested_tenant(request)
            admin = await run_in_threadpool(_signed_in, request, site, tenant)
            if admin is None:
                return RedirectResponse(f"/admin/{tenant.id}/login", 303)
            if admin.needs_second_factor:
                return RedirectResponse(admin.url("mfa"), 303)
            if not admin.may(needs):
                log.info("console: %s/%s may not %s", tenant.id, admin.name, needs)
                return render(request, admin, "admin/forbidden.html", 403)
            return await handler(request, admin)

        return endpoint

    return wrap


def factor_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wraps a second-factor page: open to a signed-in administrator whether or not the
    session has had its second factor yet."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        site = site_of(request)
        tenant = requested_tenant(request)
        admin = await run_in_threadpool(_signed_in, request, site, tenant)
        if admin is None:
            return RedirectResponse(f"/admin/{tenant.id}/login", 303)
        return await handler(request, admin)

    return endpoint


def render(
    request: Request, admin: Admin, template: str, status: int = 200, **context: Any
) -> Response:
    """A console page: every one carries a CSRF token (the sign-out button is a form)."""
    return form_page(
        request, template, status, admin=admin, tenant=admin.tenant.id, P=Privilege, **context
    )
