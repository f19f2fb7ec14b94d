"""The tenant's audit, downloaded (SPEC §19): the same lines as `audit export`, for
system_admin only (the audit names every account and who changed what)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sync.entry.web.console.console import Admin, Privilege, console_page, render
from sync.errors import UsageError
from sync.services.audit_out import MEDIA_TYPES, ExportFormat, export_lines, parse_instant

MAX_FIELD = 64  # a date-time is far shorter: a longer value is refused unread


@console_page(Privilege.AUDIT)
async def page(request: Request, admin: Admin) -> Response:
    return render(request, admin, "admin/audit.html", since="", until="", problem=None)


@console_page(Privilege.AUDIT)
async def download(request: Request, admin: Admin) -> Response:
    """`?since=&until=&format=jsonl|csv`: the events as a file; a bad date shows the page again
    with the problem (naming the field and the value)."""
    query = request.query_params
    since, until = query.get("since", "").strip(), query.get("until", "").strip()
    fmt: ExportFormat = "csv" if query.get("format") == "csv" else "jsonl"
    try:
        lines = export_lines(
            admin.site.engine,
            admin.tenant.id,
            _instant(since, "since"),
            _instant(until, "until"),
            fmt,
        )
    except UsageError as exc:
        return render(
            request, admin, "admin/audit.html", 400, since=since, until=until, problem=str(exc)
        )
    name = f"audit-{admin.tenant.id}.{fmt}"
    # read a batch at a time in the thread pool as the client takes the lines
    return StreamingResponse(
        lines,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _instant(value: str, field: str) -> datetime | None:
    if not value:
        return None
    if len(value) > MAX_FIELD:
        raise UsageError(f"{field}: the value is too long")
    return parse_instant(value, field)
