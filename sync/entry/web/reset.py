"""The page a reset link opens: a new password twice, checked against SPEC §6's policy.

The token comes in the link's query string and goes back in the form's body, never in a path, so
no access log on the way records it; the page's Referrer-Policy keeps it from leaving in a
Referer header. A refused token (unknown, used, superseded, expired, disabled account) gets a page
that says which.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.entry.web.forms import posted_form
from sync.entry.web.paths import DONE, FORGOT
from sync.entry.web.render import form_page, page
from sync.entry.web.site import Site, site_of
from sync.services.policy import MIN_ADMIN_PASSWORD, Refused, password_problems
from sync.services.resets import TokenHolder, TokenRefused, check_token, redeem_link

log = logging.getLogger(__name__)

REFUSED_STATUS = {"unknown": 404}  # the others are gone for good: 410


async def reset(request: Request) -> Response:
    site = site_of(request)
    if request.method == "GET":
        token = _query_token(request, site)
        verdict = await run_in_threadpool(_check, site, token)
        if isinstance(verdict, TokenRefused):
            return _refused(verdict)
        return _form(request, verdict, token)
    form = await posted_form(request)
    token = form.get("token", "")
    password, confirmation = form.get("password", ""), form.get("confirmation", "")
    verdict = await run_in_threadpool(_check, site, token)
    if isinstance(verdict, TokenRefused):
        return _refused(verdict)
    problems = password_problems(password, verdict.account_name, verdict.role)
    mismatch = password != confirmation
    if problems or mismatch:
        return _form(request, verdict, token, problems, mismatch)
    outcome = await run_in_threadpool(_redeem, site, token, password)
    if isinstance(outcome, TokenRefused):
        return _refused(outcome)
    if isinstance(outcome, str):  # refused by the policy after all (the role changed meanwhile)
        return _form(request, verdict, token, [outcome])
    log.info("password of %s/%s set with a reset link", outcome.tenant_id, outcome.account_name)
    return RedirectResponse(DONE, 303)


def _query_token(request: Request, site: Site) -> str:
    for name in site.reset_paths.get(request.url.path, ()):
        if value := request.query_params.get(name):
            return value
    return ""


def _check(site: Site, token: str) -> TokenHolder | TokenRefused:
    with site.engine.connect() as conn:
        return check_token(conn, token, site.clock())


def _redeem(site: Site, token: str, password: str) -> TokenHolder | TokenRefused | str:
    try:
        return redeem_link(site.engine, token, password, site.clock())
    except Refused as exc:
        return str(exc)


def _form(
    request: Request,
    holder: TokenHolder,
    token: str,
    problems: list[str] | None = None,
    mismatch: bool = False,
) -> Response:
    failed = bool(problems) or mismatch
    return form_page(
        request,
        "reset.html",
        400 if failed else 200,
        account=holder.account_name,
        admin=holder.role != "none",
        min_length=MIN_ADMIN_PASSWORD,
        token=token,
        action=request.url.path,
        problems=problems or [],
        mismatch=mismatch,
    )


def _refused(verdict: TokenRefused) -> Response:
    log.info("reset link refused: %s", verdict.reason)
    status = REFUSED_STATUS.get(verdict.reason, 410)
    return page("token.html", status, reason=verdict.reason, forgot=FORGOT)
