"""Signing in to and out of a tenant's console.

The same answer, after the same work, for every failure: an unknown name, a wrong password, an
account without a console privilege, disabled or without a password. An unknown name still
costs one argon2id verification (of a dummy hash), so the time taken tells nothing either.
Attempts are limited per client address (`signin_limit`) and failures per account name
(`signin_lockout`), counted for names that do not exist too, in the store (every `web` process
counts the same attempts). An account the tenant wants a second factor of is signed in to the
second-factor pages only (console/mfa.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.config.settings import TenantSettings
from sync.entry.web.console import sessions
from sync.entry.web.console.console import (
    Console,
    console_of,
    may_sign_in,
    requested_tenant,
)
from sync.entry.web.forms import posted_form
from sync.entry.web.ratelimit import RateLimited
from sync.entry.web.render import form_page
from sync.entry.web.site import Site, site_of
from sync.model.names import name_key
from sync.services import second_factor
from sync.services.admin_sso import configured
from sync.services.console_auth import SignInLimited
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
    now = site.clock()
    await count_attempt(request, console, now)
    name, password = form.get("name", "").strip(), form.get("password", "")
    key = lockout_key(tenant, name)
    try:
        counted = await run_in_threadpool(console.limits.begin_try, key, now)
    except SignInLimited as exc:
        log.info("console sign-in to %s refused: %r is locked out", tenant.id, name)
        return login_page(request, tenant, name, 429, failure="locked", wait=exc.retry_after)
    found = await run_in_threadpool(_verify, site, console, tenant, name, password)
    if found is None:
        log.info("console sign-in to %s as %r failed", tenant.id, name)
        return login_page(request, tenant, name, 401, failure="failed")
    await run_in_threadpool(console.limits.passed, counted)
    account_id, role = found
    session = await run_in_threadpool(
        console.sessions.start, tenant.id, account_id, now, second_factor_done=False
    )
    log.info("console sign-in to %s as %r", tenant.id, name)
    # an account that owes a second factor gives it before any other page
    holder = second_factor.Holder(tenant.id, account_id, name)
    owes = await run_in_threadpool(second_factor.owed, site.engine, tenant, holder, role)
    page = "mfa" if owes else "accounts"
    response = RedirectResponse(f"/admin/{tenant.id}/{page}", 303)
    sessions.set_cookie(request, response, session.id)
    return response


async def count_attempt(request: Request, console: Console, now: datetime) -> None:
    """One sign-in attempt (a password, or single sign-on) from the client's address, counted
    in the store; past `signin_limit` the 429 page."""
    client = request.client.host if request.client else "unknown"
    try:
        await run_in_threadpool(console.limits.attempt, client, now)
    except SignInLimited as exc:
        raise RateLimited(exc.retry_after) from None


def lockout_key(tenant: TenantSettings, name: str) -> str:
    """What failed sign-ins are counted by: the tenant and the name as its key (SPEC §3), so
    `User1` and `ｕｓｅｒ１` share one lockout."""
    return f"{tenant.id}/{name_key(name)}"


async def logout(request: Request) -> Response:
    tenant = requested_tenant(request)
    await posted_form(request)
    await run_in_threadpool(console_of(request).sessions.end, sessions.session_id(request))
    response = RedirectResponse(f"/admin/{tenant.id}/login?signed_out=1", 303)
    sessions.clear_cookie(request, response)
    return response


def _verify(
    site: Site, console: Console, tenant: TenantSettings, name: str, password: str
) -> tuple[int, str] | None:
    """The account id and privilege when the name and password sign in to the console;
    exactly one argon2id verification whatever the outcome."""
    found = None
    if name and len(name) <= MAX_NAME:
        found = credentials(site.engine, tenant.id, name=name)
    stored = found.password_hash if found is not None else None
    matches = verify_password(stored or console.dummy_hash, password) and stored is not None
    if matches and found is not None and may_sign_in(found):
        return found.account_id, found.role
    return None


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
