"""The forgot-password pages: name the account, choose an address, get the link.

Unknown tenant, unknown account, a federated or disabled account and one without any address all
get the same page, so the form tells nobody more than the product's own sign-in page does.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from itsdangerous import BadData
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sync.config.settings import TenantSettings
from sync.entry.web.forms import FormRefused, posted_form
from sync.entry.web.paths import SEND
from sync.entry.web.render import form_page, mask, page
from sync.entry.web.site import Site, site_of
from sync.model import Account
from sync.model.enums import OutboxStatus
from sync.model.names import name_key
from sync.services.accounts import load_account
from sync.services.policy import Refused
from sync.services.reset_links import send_reset_link
from sync.services.resets import SELF

log = logging.getLogger(__name__)

LOOKUP_MAX_AGE = 15 * 60  # seconds between naming the account and choosing the address
MAX_INPUT = 256


@dataclass(frozen=True)
class Found:
    tenant: TenantSettings
    account: Account


async def forgot(request: Request) -> Response:
    if request.method == "GET":
        return form_page(request, "forgot.html", tenant="", account="")
    form = await posted_form(request)
    site = site_of(request)
    tenant_id, name = form.get("tenant", "").strip(), form.get("account", "").strip()
    found = await run_in_threadpool(find_account, site, tenant_id, name)
    if found is None:
        log.info("forgot password: no account to reset for %r in tenant %r", name, tenant_id)
        return page("unknown.html", 404)
    addresses = found.account.addresses
    lookup = site.lookups.dumps([found.tenant.id, found.account.name, site.pin(addresses)])
    return form_page(
        request,
        "choose.html",
        account=found.account.name,
        masked=[mask(a) for a in addresses],
        lookup=lookup,
        action=SEND,
    )


async def send(request: Request) -> Response:
    form = await posted_form(request)
    site = site_of(request)
    try:
        tenant_id, name, digest = site.lookups.loads(form.get("lookup", ""), max_age=LOOKUP_MAX_AGE)
    except (BadData, ValueError, TypeError):
        raise FormRefused("the account lookup expired or was altered") from None
    found = await run_in_threadpool(find_account, site, tenant_id, name)
    if found is None:
        return page("unknown.html", 404)
    addresses = found.account.addresses
    if not hmac.compare_digest(site.pin(addresses), str(digest)):
        raise FormRefused("the account's addresses changed since they were shown")
    index = form.get("address", "")
    if not (index.isascii() and index.isdigit()) or int(index) >= len(addresses):
        return page("error.html", 400, kind="bad_request")
    site.limits.account(f"{found.tenant.id}/{found.account.id}")
    address = addresses[int(index)]
    status = await run_in_threadpool(send_link, site, found, address)
    log.info(
        "reset link for %s/%s to %s: %s",
        found.tenant.id,
        found.account.name,
        mask(address),
        status or "refused",
    )
    if status is None:
        return page("unknown.html", 404)
    hours = f"{found.tenant.token_ttl_hours:g}"
    return page(
        "sent.html",
        503 if status == OutboxStatus.FAILED else 200,
        outcome=status,
        masked=mask(address),
        hours=hours,
    )


def find_account(site: Site, tenant_id: str, name: str) -> Found | None:
    """The account a reset link may be sent for, or None (for every reason alike)."""
    if not tenant_id or not name or len(tenant_id) > MAX_INPUT or len(name) > MAX_INPUT:
        return None
    # typed as a person types them: any case, full width too (the name's store lookup and the
    # tenant's alike go by name_key)
    wanted = name_key(tenant_id)
    tenant = next((t for t in site.settings.tenants if name_key(t.id) == wanted), None)
    if tenant is None or tenant.auth_type != "password":
        return None
    try:
        with site.engine.connect() as conn:
            account = load_account(conn, tenant.id, name)
    except Refused:
        return None
    usable = account.auth_type == "password" and account.status == "active"
    return Found(tenant, account) if usable and account.addresses else None


def send_link(site: Site, found: Found, address: str) -> str | None:
    """Queues the password_reset email and delivers that one message now; its outbox status
    (`sent`, `pending` when the server is down or another worker holds the delivery lock,
    `failed`), or None when the account may no longer get a link."""
    settings = site.settings
    try:
        sent = send_reset_link(
            settings, site.engine, found.tenant, found.account.name, address, actor=SELF,
            now=site.clock(), wait_seconds=settings.web.deliver_wait_seconds,
        )  # fmt: skip
    except Refused:
        return None
    return sent.status
