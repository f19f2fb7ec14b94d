"""Signing in to and out of a tenant's console.

The same answer, after the same work, for every failure: an unknown name, a wrong password, an
account without a console privilege, disabled or without a password. An unknown name still
costs one argon2id verification (of a dummy hash), so the time taken tells nothing either.
Attempts are limited per client address (`signin_limit`) and failures per account name
(`signin_lockout`), counted for names that do not exist too.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.config.settings import TenantSettings
from sync.entry.web.console import sessions
from sync.entry.web.console.console import (
    Console,
    console_of,
    may_sign_in,
    now_seconds,
    requested_tenant,
)
from sync.entry.web.forms import posted_form
from sync.entry.web.render import form_page
from sync.entry.web.site import Site, site_of
from sync.model.names import name_key
from sync.services.admin_sso import configured
from sync.services.passwords import verify_password
from sync.services.views import credentials

log = logging.getLogger(__name__)

MAX_NAME = 256


async def login(request: Request) -> Response:
    tenant = requested_tenant(request)
    if request.method == "GET":
        return login_page(request, tenant, "")
    form = await posted_form(request)
    site, console = site_of(request), console_of(request)
    client = request.client.host if request.client else "unknown"
    site.limits.signin(client)
    name, password = form.get("name", "").strip(), form.get("password", "")
    key = f"{tenant.id}/{name_key(name)}"
    wait = site.limits.locked_out(key)
    if wait is not None:
        log.info("console sign-in to %s refused: %r is locked out", tenant.id, name)
        return login_page(request, tenant, name, 429, failure="locked", wait=wait)
    account_id = await run_in_threadpool(_verify, site, console, tenant, name, password)
    if account_id is None:
        site.limits.failed(key)
        log.info("console sign-in to %s as %r failed", tenant.id, name)
        return login_page(request, tenant, name, 401, failure="failed")
    session = console.sessions.start(tenant.id, account_id, now_seconds(site))
    log.info("console sign-in to %s as %r", tenant.id, name)
    response = RedirectResponse(f"/admin/{tenant.id}/accounts", 303)
    sessions.set_cookie(request, response, session.id)
    return response


async def logout(request: Request) -> Response:
    tenant = requested_tenant(request)
    await posted_form(request)
    console_of(request).sessions.end(sessions.session_id(request))
    response = RedirectResponse(f"/admin/{tenant.id}/login?signed_out=1", 303)
    sessions.clear_cookie(request, response)
    return response


def _verify(
    site: Site, console: Console, tenant: TenantSettings, name: str, password: str
) -> int | None:
    """The account id when the name and password sign in to the console; exactly one argon2id
    verification whatever the outcome."""
    found = None
    if name and len(name) <= MAX_NAME:
        found = credentials(site.engine, tenant.id, name=name)
    stored = found.password_hash if found is not None else None
    matches = verify_password(stored or console.dummy_hash, password) and stored is not None
    return found.account_id if matches and found is not None and may_sign_in(found) else None


def login_page(
    request: Request,
    tenant: TenantSettings,
    name: str,
    status: int = 200,
    failure: str = "",
    wait: int = 0,
    sso_reason: str = "",
) -> Response:
    """The sign-in page: the password form, and "sign in with …" when the tenant has single
    sign-on; `sso_reason` names why a single sign-on was refused."""
    oidc = tenant.console.oidc
    sso = (
        oidc.label()
        if oidc and configured(tenant, site_of(request).settings.web.public_url)
        else ""
    )
    return form_page(
        request,
        "admin/login.html",
        status,
        tenant=tenant.id,
        account=name,
        failure=failure,
        wait=wait,
        sso=sso,
        sso_reason=sso_reason,
        signed_out=request.query_params.get("signed_out") == "1",
    )
