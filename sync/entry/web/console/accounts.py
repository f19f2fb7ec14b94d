"""The account list, an account's detail and history, its edit form and "send reset link".

Every change goes through the services the CLI uses (sync.services), as the signed-in
administrator, so each is checked by the same rules and recorded in the audit under their name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.entry.web.console.console import Admin, Privilege, console_page, render
from sync.entry.web.forms import posted_form
from sync.entry.web.render import mask
from sync.errors import StopRun, UsageError
from sync.model import Account
from sync.services import views
from sync.services.accounts import Edit
from sync.services.editing import EditRequest, edit_now
from sync.services.explain import Explanation, explain_in_store
from sync.services.policy import MAX_MEMO, MIN_ADMIN_PASSWORD, ROLES, Refused
from sync.services.reset_links import send_reset_link
from sync.services.views import AccountFilter, account_detail, account_page

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_QUERY = 256
STATUSES = ("active", "pending", "disabled")
# a memo of MAX_MEMO characters, each up to 3 bytes of UTF-8, each byte %XX when URL-encoded
MEMO_FIELD_BYTES = MAX_MEMO * 9 + 64
# a console edit waits this long for a run of the tenant, then is refused (sync.services.editing)
EDIT_WAIT_SECONDS = 10


@console_page(Privilege.VIEW)
async def listing(request: Request, admin: Admin) -> Response:
    params = request.query_params
    wanted = AccountFilter(
        params.get("q", "")[:MAX_QUERY] or None,
        params.get("status") if params.get("status") in STATUSES else None,
        params.get("role") if params.get("role") in ROLES else None,
    )
    after = params.get("after", "")[:MAX_QUERY] or None
    rows, next_key = await run_in_threadpool(_page, admin, wanted, after)
    kept = {
        k: v
        for k, v in (("q", wanted.search), ("status", wanted.status), ("role", wanted.role))
        if v
    }
    return render(
        request,
        admin,
        "admin/accounts.html",
        accounts=rows,
        wanted=wanted,
        roles=ROLES,
        statuses=STATUSES,
        first=admin.url("accounts?" + urlencode(kept)),
        next=admin.url("accounts?" + urlencode({**kept, "after": next_key})) if next_key else "",
        paged=after is not None,
    )


def _page(
    admin: Admin, wanted: AccountFilter, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return account_page(admin.site.engine, admin.tenant.id, wanted, after, PAGE_SIZE)


@dataclass
class Detail:
    view: dict[str, Any]
    history: list[dict[str, Any]]


def _detail(admin: Admin, name: str) -> Detail | None:
    found = account_detail(admin.site.engine, admin.tenant.id, name)
    return None if found is None else Detail(*found)


async def _detail_page(
    request: Request, admin: Admin, name: str, status: int = 200, **context: Any
) -> Response:
    detail = await run_in_threadpool(_detail, admin, name)
    if detail is None:
        raise HTTPException(404)
    context.setdefault("problems", [])
    context.setdefault("said", [])
    context.setdefault("values", {})
    context.setdefault("explanation", None)
    context.setdefault("explain_error", "")
    return render(
        request,
        admin,
        "admin/account.html",
        status,
        account=detail.view,
        history=list(reversed(detail.history)),
        roles=ROLES,
        min_length=MIN_ADMIN_PASSWORD,
        account_url=admin.url("accounts/" + quote(detail.view["name"], safe="")),
        mask=mask,
        **context,
    )


@console_page(Privilege.VIEW)
async def detail(request: Request, admin: Admin) -> Response:
    said = [request.query_params["said"]] if "said" in request.query_params else []
    return await _detail_page(request, admin, request.path_params["name"], said=said[:1])


@console_page(Privilege.VIEW)
async def explained(request: Request, admin: Admin) -> Response:
    """The account page with what the next run would do for its person, and why (SPEC §18):
    asked for by a link, as it reads the directory."""
    name = request.path_params["name"]
    detail = await run_in_threadpool(_detail, admin, name)
    if detail is None:
        raise HTTPException(404)
    told = await run_in_threadpool(_explain, admin, detail.view["source_id"])
    if isinstance(told, str):
        return await _detail_page(request, admin, name, explain_error=told)
    return await _detail_page(request, admin, name, explanation=told)


def _explain(admin: Admin, source_id: str) -> Explanation | str:
    """The explanation, or why there is none (a source that cannot be read, say)."""
    try:
        return explain_in_store(admin.site.settings, admin.tenant, source_id)
    except (StopRun, UsageError) as exc:
        return str(exc)


@console_page(Privilege.ACCOUNTS)
async def edit(request: Request, admin: Admin) -> Response:
    name = request.path_params["name"]
    form = await posted_form(request, MEMO_FIELD_BYTES)
    outcome = await run_in_threadpool(_edit, admin, name, form)
    if isinstance(outcome, list):
        return await _detail_page(request, admin, name, 400, problems=outcome, values=form)
    new_name, said = outcome
    log.info("console: %s/%s edited %r: %s", admin.tenant.id, admin.name, name, "; ".join(said))
    query = urlencode({"said": "; ".join(said) or "nothing changed"})
    return RedirectResponse(admin.url(f"accounts/{quote(new_name, safe='')}?{query}"), 303)


def _edit(admin: Admin, name: str, form: dict[str, str]) -> tuple[str, list[str]] | list[str]:
    """(the account's name afterwards, what changed), or the problems; all or nothing."""
    password, confirmation = form.get("password", ""), form.get("password_confirm", "")
    if password != confirmation:
        return ["the confirmation does not match the password"]
    site = admin.site
    try:
        account = views.account(site.engine, admin.tenant.id, name)
        change = _asked_edit(account, form)
        if change.is_empty() and not password:
            return account.name, []
        request = EditRequest(
            admin.tenant.id, account.name, change, admin.actor, site.clock(),
            password=password or None, wait_seconds=EDIT_WAIT_SECONDS,
            deliver_wait_seconds=site.settings.web.deliver_wait_seconds,
        )  # fmt: skip
        edited = edit_now(site.settings, site.engine, request)
    except Refused as exc:
        return [str(exc)]
    return edited.name, edited.said


def _asked_edit(account: Account, form: dict[str, str]) -> Edit:
    """What the form changes: only the fields that differ from the account's."""
    wanted_name = form.get("name", "").strip()
    rename = wanted_name if wanted_name and wanted_name != account.name else None
    role = form.get("role", account.role)
    scheme = form.get("scheme", "").strip() or None
    if role != "custom_admin" or scheme == account.role_scheme:
        scheme = None
    role_change = role if role != account.role or scheme is not None else None
    memo = form.get("memo", "").replace("\r\n", "\n")
    memo_change = memo if memo != (account.memo or "") else None
    locked = form.get("name_locked") == "1"
    lock = locked if locked != account.name_locked and rename is None else None
    return Edit(rename, role_change, scheme, memo_change, lock)


@console_page(Privilege.ACCOUNTS)
async def send_reset(request: Request, admin: Admin) -> Response:
    name = request.path_params["name"]
    await posted_form(request)
    outcome = await run_in_threadpool(_send_reset, admin, name)
    if isinstance(outcome, list):
        return await _detail_page(request, admin, name, 400, problems=outcome)
    log.info("console: %s/%s sent a reset link for %r", admin.tenant.id, admin.name, name)
    query = urlencode({"said": outcome})
    return RedirectResponse(admin.url(f"accounts/{quote(name, safe='')}?{query}"), 303)


def _send_reset(admin: Admin, name: str) -> str | list[str]:
    """Queues a password_reset email to the primary address and delivers it now."""
    site = admin.site
    try:
        sent = send_reset_link(
            site.settings, site.engine, admin.tenant, name, None, actor=admin.actor,
            now=site.clock(), wait_seconds=site.settings.web.deliver_wait_seconds,
        )  # fmt: skip
    except Refused as exc:
        return [str(exc)]
    return f"reset link to {mask(sent.queued.to_address)}: {sent.status}"
