"""Page templates (Japanese and English on every page) and the few helpers they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from sync.entry.web import csrf
from sync.entry.web.refusals import in_japanese
from sync.entry.web.site import site_of

TEMPLATES = Path(__file__).resolve().parent / "templates"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["ja"] = in_japanese  # a refusal said in Japanese, beside its English


def page(
    name: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(context), status, headers)


def form_page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with a form: carries a CSRF token, and sets the cookie it pairs with if needed."""
    token, fresh = site_of(request).csrf.issue(request)
    response = page(name, status, csrf_token=token, **context)
    if fresh is not None:
        csrf.set_cookie(request, response, fresh)
    return response


def mask(address: str) -> str:
    """`taro@example.com` as `t***@example.com`: enough to recognise, not to learn."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address[:1] + "***"
    return f"{local[0]}***@{domain}"
