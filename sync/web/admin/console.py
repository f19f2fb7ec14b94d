"""What every console page shares: who is signed in, what they may do, and the page around it.

Each request looks the administrator's account up again, so a privilege taken away, a disabled
account or a removed password ends the session at the next click. A session belongs to one
tenant: on another tenant's pages its holder is a stranger and is sent to that tenant's sign-in.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.admin.passwords import hash_password
from sync.config import Settings, TenantSettings, WebSettings
from sync.mail.deliver import deliver_due
from sync.runner import RunOptions, run_tenant
from sync.store.accounts import Credentials, credentials
from sync.store.audit import Actor
from sync.web.admin.sessions import Session, Sessions, session_id
from sync.web.render import form_page
from sync.web.site import Site, site_of

log = logging.getLogger(__name__)

MAX_TENANT_ID = 64


class Privilege(StrEnum):
    VIEW = "view"  # every screen, read-only
    ACCOUNTS = "accounts"  # edit accounts, set passwords, send reset links
    RESYNC = "resync"  # run the tenant now
    SETTINGS = "settings"  # preview and save the naming rule and authentication type
    CHANGES = "changes"  # approve or reject held change sets


_EVERY = frozenset(Privilege)
_DAILY = frozenset({Privilege.VIEW, Privilege.ACCOUNTS, Privilege.RESYNC})
# docs/web.md: system_admin may do everything; the other privileges run the tenant day to day
# but change neither its rules nor what the guards held back
GRANTS: dict[str, frozenset[Privilege]] = {
    "system_admin": _EVERY,
    "department_admin": _DAILY,
    "operator": _DAILY,
    "custom_admin": _DAILY,
}


def may_sign_in(found: Credentials | None) -> bool:
    """Only an active account with a console privilege and a password set may sign in."""
    return (
        found is not None
        and found.status == "active"
        and found.role in GRANTS
        and found.password_hash is not None
    )


class Console:
    """The console's state in this process: sessions, the dummy hash verified for unknown
    names, and the tenants a "resync now" is running for."""

    def __init__(self, web: WebSettings) -> None:
        self.sessions = Sessions(web.session_idle_minutes * 60, web.session_max_hours * 3600)
        self.dummy_hash = hash_password("no account has this password")
        self._running: set[str] = set()
        self._again: set[str] = set()  # tenants owed one more run when the current one ends
        self._last_call: dict[str, float] = {}  # the last webhook call per tenant (monotonic)
        self._lock = threading.Lock()

    def resync(
        self, settings: Settings, tenant: TenantSettings, site: Site, *, follow_up: bool = False
    ) -> str:
        """Asks the fleet for a run ahead of the scheduled ones where workers serve this store
        ("queued"); else starts a run in a background thread, then delivers its emails, as
        `clomo-sync sync` does ("started", or "running" when this process already runs it).

        `follow_up` (a webhook saying the directory changed): the run starts once no other such
        call came for `[web] webhook_settle_seconds`, so a burst makes one run; a call while
        the run is under way (it may have read before the change) makes one more after it."""
        from sync.fleet.app import request_run

        if request_run(settings, site.engine, tenant.id) is not None:
            return "queued"
        with self._lock:
            if follow_up:
                self._last_call[tenant.id] = time.monotonic()
            if tenant.id in self._running:
                if follow_up:
                    self._again.add(tenant.id)
                    return "queued"
                return "running"
            self._running.add(tenant.id)
        thread = threading.Thread(
            target=self._run, args=(settings, tenant, site), name=f"resync-{tenant.id}"
        )
        thread.daemon = True
        thread.start()
        return "started"

    def _settle(self, tenant_id: str, seconds: float) -> None:
        """Waits until no webhook call for the tenant came for `seconds`; the calls until then
        are served by the run that follows."""
        while True:
            with self._lock:
                last = self._last_call.get(tenant_id)
                wait = 0.0 if last is None else last + seconds - time.monotonic()
                if wait <= 0:
                    self._again.discard(tenant_id)
                    self._last_call.pop(tenant_id, None)
                    return
            time.sleep(wait)

    def running(self, tenant_id: str) -> bool:
        with self._lock:
            return tenant_id in self._running

    def _run(self, settings: Settings, tenant: TenantSettings, site: Site) -> None:
        again = True
        while again:
            self._settle(tenant.id, settings.web.webhook_settle_seconds)
            try:
                report = run_tenant(settings, tenant, site.engine, RunOptions())
                log.info("resync of %s: %s", tenant.id, report.status)
                deliver_due(site.engine, settings)
            except Exception:  # a background thread has nobody else to tell
                log.exception("resync of %s failed", tenant.id)
            with self._lock:
                again = tenant.id in self._again
                self._again.discard(tenant.id)
                if not again:
                    self._running.discard(tenant.id)
            if again:  # the settings as they are now (SPEC §14)
                tenant = tenant_of(site, tenant.id) or tenant


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

    @property
    def actor(self) -> Actor:
        return Actor.admin(self.name)

    def may(self, privilege: Privilege) -> bool:
        return privilege in GRANTS.get(self.role, frozenset())

    def url(self, path: str = "") -> str:
        return f"/admin/{self.tenant.id}/{path}"


def tenant_of(site: Site, tenant_id: str) -> TenantSettings | None:
    """The tenant's settings as the store holds them now (a save from the console, or a
    `tenants apply`, shows at the next click), or None for a tenant the store does not run."""
    if len(tenant_id) > MAX_TENANT_ID:
        return None
    from sync.tenants import current_tenant

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
    session = console.sessions.find(session_id(request), now_seconds(site))
    if session is None or session.tenant_id != tenant.id:
        return None
    with site.engine.connect() as conn:
        found = credentials(conn, tenant.id, account_id=session.account_id)
    if found is None or not may_sign_in(found):
        console.sessions.end(session.id)
        return None
    return Admin(site, console, tenant, session, found.account_id, found.name, found.role)


Handler = Callable[[Request, Admin], Awaitable[Response]]


def console_page(needs: Privilege) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wraps a page: an unknown tenant is 404, a stranger goes to the tenant's sign-in, an
    administrator without the privilege gets 403."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            site = site_of(request)
            tenant = requested_tenant(request)
            admin = await run_in_threadpool(_signed_in, request, site, tenant)
            if admin is None:
                return RedirectResponse(f"/admin/{tenant.id}/login", 303)
            if not admin.may(needs):
                log.info("console: %s/%s may not %s", tenant.id, admin.name, needs)
                return render(request, admin, "admin/forbidden.html", 403)
            return await handler(request, admin)

        return endpoint

    return wrap


def render(
    request: Request, admin: Admin, template: str, status: int = 200, **context: Any
) -> Response:
    """A console page: every one carries a CSRF token (the sign-out button is a form)."""
    return form_page(
        request, template, status, admin=admin, tenant=admin.tenant.id, P=Privilege, **context
    )
