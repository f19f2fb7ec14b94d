"""The tenant's runs, one run's report and the changes it made, and "resync now"."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.entry.web.console.console import Admin, Privilege, console_page, render
from sync.entry.web.forms import posted_form
from sync.services.history import tenant_run
from sync.services.views import recent_runs

log = logging.getLogger(__name__)

SHOWN_RUNS = 50
MAX_RUN_ID = 64


@console_page(Privilege.VIEW)
async def listing(request: Request, admin: Admin) -> Response:
    reports = await run_in_threadpool(_recent, admin)
    return render(
        request,
        admin,
        "admin/runs.html",
        reports=reports,
        running=admin.console.running(admin.tenant.id),
        started=request.query_params.get("started"),
    )


def _recent(admin: Admin) -> list[dict[str, Any]]:
    return recent_runs(admin.site.engine, admin.tenant.id, SHOWN_RUNS)


@console_page(Privilege.VIEW)
async def show(request: Request, admin: Admin) -> Response:
    run_id = request.path_params["run_id"]
    found = await run_in_threadpool(_run, admin, run_id)
    if found is None:
        raise HTTPException(404)
    report, events = found
    return render(request, admin, "admin/run.html", report=report, events=events)


def _run(admin: Admin, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The run's report and events; None for another tenant's run as for an unknown one."""
    if len(run_id) > MAX_RUN_ID:
        return None
    return tenant_run(admin.site.engine, admin.tenant.id, run_id)


@console_page(Privilege.RESYNC)
async def resync(request: Request, admin: Admin) -> Response:
    await posted_form(request)
    outcome = await run_in_threadpool(
        admin.console.resync, admin.site.settings, admin.tenant, admin.site
    )
    log.info("console: %s/%s asked for a resync: %s", admin.tenant.id, admin.name, outcome)
    started = {"started": "yes", "running": "running", "queued": "queued"}[outcome]
    return RedirectResponse(admin.url(f"runs?started={started}"), 303)
