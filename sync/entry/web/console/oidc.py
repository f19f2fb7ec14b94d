"""Signing in to a tenant's console through its OpenID provider (SPEC §19, docs/web.md).

`/oidc/start` sends the browser to the provider with a fresh state, nonce and PKCE verifier,
which ride in their own cookie: signed, HttpOnly, ten minutes long, SameSite=Lax because the
provider's answer comes back as a cross-site navigation (the session cookie stays Strict).
`/oidc/callback` clears that cookie whatever happens and hands it, with the answer, to the
single sign-on service. Every sign-in and every refusal is logged like the password's.
"""

from __future__ import annotations

import logging

from itsdangerous import BadData
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.config.settings import TenantSettings
from sync.entry.web.console import sessions
from sync.entry.web.console.console import Console, console_of, now_seconds, requested_tenant
from sync.entry.web.console.signin import count_attempt, login_page
from sync.entry.web.csrf import private_cookie
from sync.entry.web.render import page
from sync.entry.web.site import Site, site_of
from sync.services.admin_sso import PENDING_SECONDS, Pending, Refused, SignedIn, configured

log = logging.getLogger(__name__)

# the page each refusal shows, with the password form under it
STATUS = {"unavailable": 503, "not_configured": 503, "state": 400, "replayed": 400}


def cookie_name(request: Request) -> str:
    return "__Host-clomo_oidc" if request.url.scheme == "https" else "clomo_oidc"


async def start(request: Request) -> Response:
    tenant = requested_tenant(request)
    site, console = site_of(request), console_of(request)
    public_url = site.settings.web.public_url
    if not configured(tenant, public_url):
        raise HTTPException(404)
    await count_attempt(request, console, site.clock())
    try:
        url, pending = await run_in_threadpool(
            console.sso.begin, tenant, public_url, now_seconds(site)
        )
    except Refused as refused:
        return _refusal(request, tenant, refused)
    response = RedirectResponse(url, 302)
    value = console.sso_cookies.dumps(pending.model_dump())
    private_cookie(request, response, cookie_name(request), value, "lax", PENDING_SECONDS)
    return response


async def callback(request: Request) -> Response:
    tenant = requested_tenant(request)
    site, console = site_of(request), console_of(request)
    await count_attempt(request, console, site.clock())
    pending = _pending(request, console)
    answer = {key: request.query_params[key] for key in ("state", "code", "error", "iss")
              if key in request.query_params}  # fmt: skip
    try:
        signed_in = await run_in_threadpool(
            console.sso.finish,
            site.engine,
            tenant,
            site.settings.web.public_url,
            pending,
            answer,
            now_seconds(site),
        )
    except Refused as refused:
        response = _refusal(request, tenant, refused)
    else:
        response = await run_in_threadpool(
            start_session_after_sso, request, site, console, tenant, signed_in
        )
    response.delete_cookie(
        cookie_name(request), path="/", secure=request.url.scheme == "https", httponly=True,
        samesite="lax",
    )  # fmt: skip
    return response


def start_session_after_sso(
    request: Request, site: Site, console: Console, tenant: TenantSettings, signed_in: SignedIn
) -> Response:
    """The console session of an administrator the provider vouched for. The provider's own
    second factor stands in for the console's (SPEC §19): this is the one place a session
    starts after single sign-on, to be marked as having passed it.

    The answer is a page that moves on by itself rather than a redirect: the provider sent the
    browser here, and a browser does not send a SameSite=Strict cookie on a redirect chain that
    began on another site; a navigation this page starts is same-site."""
    session = console.sessions.start(
        tenant.id, signed_in.account_id, site.clock(), "oidc", second_factor_done=True
    )
    log.info(
        "console sign-in to %s as %r by single sign-on (subject %r)",
        tenant.id,
        signed_in.name,
        signed_in.subject,
    )
    response = page("admin/sso_done.html", tenant=tenant.id, target=f"/admin/{tenant.id}/accounts")
    sessions.set_cookie(request, response, session.id)
    return response


def _pending(request: Request, console: Console) -> Pending | None:
    value = request.cookies.get(cookie_name(request))
    if not value:
        return None
    try:
        return Pending.read(console.sso_cookies.loads(value))
    except BadData:
        return None


def _refusal(request: Request, tenant: TenantSettings, refused: Refused) -> Response:
    log.info("console single sign-on to %s refused (%s): %s", tenant.id, refused.reason,
             refused.detail)  # fmt: skip
    status = STATUS.get(refused.reason, 403)
    return login_page(request, tenant, "", status, failure="sso", sso_reason=refused.reason)
