"""Reading a posted form: bounded, and only with a valid CSRF token."""

from __future__ import annotations

from starlette.requests import Request

from sync.entry.web.csrf import FIELD
from sync.entry.web.site import site_of

MAX_FIELDS = 8
MAX_FIELD_BYTES = 4096  # a password is at most MAX_PASSWORD characters; the rest are short


class FormRefused(Exception):
    """The form's CSRF token is missing, stale or not this browser's; or a signed step expired."""


async def posted_form(request: Request, field_bytes: int = MAX_FIELD_BYTES) -> dict[str, str]:
    """The posted fields; `field_bytes` bounds each one as sent (URL-encoded)."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=field_bytes)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    if not site_of(request).csrf.valid(request, values.get(FIELD, "")):
        raise FormRefused("CSRF token missing or invalid")
    return values
