"""Held change sets (SPEC §10): the list, one set field by field, approve and reject.

Approving runs the tenant at once (sync.services.changes.approve, as `clomo-sync changes
approve` does) and shows that run's report; of two administrators deciding at once, one wins and
the other is told the set is no longer pending.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.entry.web.console.console import Admin, Privilege, console_page, render
from sync.entry.web.forms import posted_form
from sync.errors import UsageError
from sync.model.changeset import ChangeSet, HeldChange
from sync.services import changes
from sync.services.delivery import deliver_now

log = logging.getLogger(__name__)

SHOWN_SETS = 100
MAX_SET_ID = 64


@console_page(Privilege.VIEW)
async def listing(request: Request, admin: Admin) -> Response:
    sets = await run_in_threadpool(_sets, admin)
    return render(request, admin, "admin/changes.html", sets=sets)


def _sets(admin: Admin) -> list[ChangeSet]:
    site = admin.site
    return changes.listing(site.settings, site.engine, admin.tenant.id, None, SHOWN_SETS)


def _own_set(admin: Admin, set_id: str) -> tuple[ChangeSet, list[HeldChange]]:
    """The set and its changes; 404 for another tenant's set as for an unknown one."""
    if len(set_id) > MAX_SET_ID:
        raise HTTPException(404)
    try:
        found, held = changes.show(admin.site.engine, set_id)
    except UsageError:
        raise HTTPException(404) from None
    if found.tenant_id != admin.tenant.id:
        raise HTTPException(404)
    return found, held


@console_page(Privilege.VIEW)
async def show(request: Request, admin: Admin) -> Response:
    found, held = await run_in_threadpool(_own_set, admin, request.path_params["set_id"])
    said = request.query_params.get("said", "")
    return render(request, admin, "admin/change.html", found=found, held=held, said=said)


@console_page(Privilege.CHANGES)
async def approve(request: Request, admin: Admin) -> Response:
    set_id = request.path_params["set_id"]
    await posted_form(request)
    await run_in_threadpool(_own_set, admin, set_id)
    try:
        approval = await run_in_threadpool(_approve, admin, set_id)
    except UsageError as exc:
        return await _refused(request, admin, set_id, str(exc))
    log.info("console: %s/%s approved change set %s", admin.tenant.id, admin.name, set_id)
    return RedirectResponse(admin.url(f"runs/{approval.report.run_id}"), 303)


def _approve(admin: Admin, set_id: str) -> changes.Approval:
    """Approves and runs with the tenant's settings as they are now, then delivers the run's
    emails, as `clomo-sync changes approve`."""
    site = admin.site
    approval = changes.approve(site.settings, site.engine, set_id, admin.actor)
    deliver_now(site.settings, site.engine)
    return approval


@console_page(Privilege.CHANGES)
async def reject(request: Request, admin: Admin) -> Response:
    set_id = request.path_params["set_id"]
    await posted_form(request)
    await run_in_threadpool(_own_set, admin, set_id)
    try:
        await run_in_threadpool(changes.reject, admin.site.engine, set_id, admin.actor)
    except UsageError as exc:
        return await _refused(request, admin, set_id, str(exc))
    log.info("console: %s/%s rejected change set %s", admin.tenant.id, admin.name, set_id)
    return RedirectResponse(admin.url(f"changes/{set_id}?said=rejected"), 303)


async def _refused(request: Request, admin: Admin, set_id: str, message: str) -> Response:
    found, held = await run_in_threadpool(_own_set, admin, set_id)
    return render(
        request, admin, "admin/change.html", 409, found=found, held=held, said="", refused=message
    )
