"""HR webhooks (SPEC §16): `POST /hooks/smarthr/{tenant}` queues a run of the tenant.

SmartHR sends the token set on its webhook screen in `X-SmartHR-Token` (developer.smarthr.jp/api/
about_webhook); it is compared in constant time with the tenant's `webhook_token_env`. A wrong or
missing token, a tenant this store does not run, or one without a webhook token all answer 401
alike (nothing tells them apart) and queue nothing; the refusal is logged without the token.
A valid call asks for a run as "resync now" does, once the burst it belongs to has settled
(`[web] webhook_settle_seconds`): queued on the fleet (where a run already waits, it stays the
one), or run by this process in the background, a burst meanwhile making one more run at most.
The body is not read: the run reads SmartHR itself. Bodies over 1 MiB are refused before this
(sync.entry.web.middleware), and webhooks are not counted against the per-address limit
(docs/smarthr.md says why).
"""

from __future__ import annotations

import hmac
import logging
import os

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync.config.settings import TenantSettings
from sync.entry.web.console.console import console_of, tenant_of
from sync.entry.web.paths import HOOKS
from sync.entry.web.site import site_of

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-SmartHR-Token"
# compared against when the tenant has no token, so a refusal takes the time an acceptance does
NO_TOKEN = os.urandom(32).hex()


def routes() -> list[Route]:
    return [Route(HOOKS + "/smarthr/{tenant}", smarthr, methods=["POST"])]


async def smarthr(request: Request) -> Response:
    site, tenant_id = site_of(request), request.path_params["tenant"]
    tenant = await run_in_threadpool(tenant_of, site, tenant_id)
    given = request.headers.get(TOKEN_HEADER, "")
    expected = webhook_token(tenant)
    matches = hmac.compare_digest(given.encode(), (expected or NO_TOKEN).encode())
    if tenant is None or expected is None or not matches:
        why = "no token" if not given else "a wrong token"
        log.warning("SmartHR webhook for tenant %r refused: %s", tenant_id[:64], why)
        return JSONResponse({"error": "unauthorized"}, 401)
    console = console_of(request)
    outcome = await run_in_threadpool(console.resync, site.settings, tenant, site, follow_up=True)
    log.info("SmartHR webhook for %s: run %s", tenant.id, outcome)
    return JSONResponse({"run": outcome}, 202)


def webhook_token(tenant: TenantSettings | None) -> str | None:
    """The tenant's webhook token, or None when it has none (not SmartHR, no key, unset)."""
    if tenant is None or tenant.source.kind != "smarthr":
        return None
    name = getattr(tenant.source, "webhook_token_env", None)
    return (os.environ.get(name) or None) if name else None
