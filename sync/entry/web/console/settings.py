"""CLOMO アカウント設定: the naming rule and the authentication type, a preview of what a change
would do, and the confirmation that saves it (through `tenants.save_settings` only)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.config.settings import TEMPLATE_FIELDS, TEMPLATE_FILTERS
from sync.entry.web.console.console import Admin, Privilege, console_page, render
from sync.entry.web.console.preview import AUTH_TYPES, SOURCES, preview, wanted_changes
from sync.entry.web.console.tenants import SettingsReadOnly, read_only_reason, save_settings
from sync.entry.web.forms import posted_form

log = logging.getLogger(__name__)


@console_page(Privilege.VIEW)
async def show(request: Request, admin: Admin) -> Response:
    return _page(request, admin, _current(admin))


@console_page(Privilege.SETTINGS)
async def preview_page(request: Request, admin: Admin) -> Response:
    form = await posted_form(request)
    changes, problems = wanted_changes(admin.tenant, form)
    if problems or not changes:
        return _page(request, admin, form, 400, problems=problems, unchanged=not changes)
    result = await run_in_threadpool(preview, admin.site.settings, admin.tenant, changes)
    log.info("console: %s/%s previewed %s", admin.tenant.id, admin.name, sorted(changes))
    return render(
        request,
        admin,
        "admin/preview.html",
        preview=result,
        changes=changes,
        form=form,
        limits=admin.tenant.limits(),
        read_only=read_only_reason(admin.site, admin.tenant.id),
    )


@console_page(Privilege.SETTINGS)
async def save(request: Request, admin: Admin) -> Response:
    form = await posted_form(request)
    changes, problems = wanted_changes(admin.tenant, form)
    if problems or not changes:
        return _page(request, admin, form, 400, problems=problems, unchanged=not changes)
    try:
        save_settings(admin.site, admin.tenant.id, changes, admin.actor)
    except SettingsReadOnly as exc:
        log.info("console: %s/%s settings not saved: %s", admin.tenant.id, admin.name, exc)
        return _page(request, admin, form, 409, refused=str(exc))
    log.info("console: %s/%s saved %s", admin.tenant.id, admin.name, sorted(changes))
    return RedirectResponse(admin.url("settings?saved=1"), 303)


def _current(admin: Admin) -> dict[str, str]:
    tenant = admin.tenant
    return {
        "account_name_source": tenant.account_name_source,
        "custom_template": tenant.custom_template or "",
        "auth_type": tenant.auth_type,
    }


def _page(
    request: Request, admin: Admin, values: dict[str, str], status: int = 200, **context: Any
) -> Response:
    context.setdefault("problems", [])
    context.setdefault("unchanged", False)
    context.setdefault("refused", "")
    return render(
        request,
        admin,
        "admin/settings.html",
        status,
        values={**_current(admin), **values},
        current=_current(admin),
        sources=SOURCES,
        auth_types=AUTH_TYPES,
        template_fields=TEMPLATE_FIELDS,
        template_filters=TEMPLATE_FILTERS,
        read_only=read_only_reason(admin.site, admin.tenant.id),
        saved=request.query_params.get("saved") == "1",
        **context,
    )
