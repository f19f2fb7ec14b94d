"""The console's second factor (SPEC §19): enrolling TOTP or a passkey, giving one after the
password, recovery codes, and the administrator's own security page.

A session whose account the tenant wants a second factor of opens only these pages until it
has given one (console.console_page sends every other page here). An account with no factor yet
enrols (after its password, nothing else stands between a thief of the password and the
enrolment, so an account that has a factor must give it before adding another). Wrong codes
count toward the account name's sign-in lockout; every enrolment, verification and failure is
in the audit (the services record them).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.entry.web.console.console import Admin, Privilege, console_page, factor_page, render
from sync.entry.web.console.signin import lockout_key
from sync.entry.web.forms import posted_form
from sync.entry.web.site import site_of
from sync.services import passkeys, second_factor
from sync.services.console_auth import SignInLimited
from sync.services.second_factor import Factors, Verdict

log = logging.getLogger(__name__)

MAX_RESPONSE = 16 * 1024  # a passkey's JSON answer, URL-encoded


def _party(request: Request) -> passkeys.Party:
    """The relying party: `[web] public_url`'s host and origin when it is set (behind a proxy
    the request itself may name an inner address), else the host the browser asked (behind a
    trusted proxy, the one it forwarded). The origin the browser signs must be this one."""
    public_url = site_of(request).settings.web.public_url
    url = urlsplit(public_url) if public_url else urlsplit(str(request.url))
    return passkeys.Party(url.hostname or "", f"{url.scheme}://{url.netloc}")


def _issuer(admin: Admin) -> str:
    return f"CLOMO {admin.tenant.id}"


def _factors(admin: Admin) -> Factors:
    return second_factor.factors_of(admin.site.engine, admin.holder)


async def _given(admin: Admin) -> Response:
    await run_in_threadpool(admin.console.sessions.second_factor_given, admin.session)
    log.info("console: %s/%s gave a second factor", admin.tenant.id, admin.name)
    return RedirectResponse(admin.url("accounts"), 303)


async def _begin_try(admin: Admin) -> int | SignInLimited:
    """The try's row in the name's lockout count (see SignInLimits.begin_try), or why the name
    may not try now."""
    key = lockout_key(admin.tenant, admin.name)
    try:
        row: int = await run_in_threadpool(admin.console.limits.begin_try, key, admin.site.clock())
    except SignInLimited as exc:
        return exc
    return row


async def _passed(admin: Admin, row: int) -> None:
    await run_in_threadpool(admin.console.limits.passed, row)


# giving the second factor


@factor_page
async def challenge(request: Request, admin: Admin) -> Response:
    if not admin.needs_second_factor:
        return RedirectResponse(admin.url("accounts"), 303)
    factors = await run_in_threadpool(_factors, admin)
    if not factors.any:
        return RedirectResponse(admin.url("mfa/enrol"), 303)
    return await _challenge_page(request, admin, factors)


async def _challenge_page(
    request: Request, admin: Admin, factors: Factors, status: int = 200, **context: Any
) -> Response:
    options = None
    if factors.passkeys:
        found = await run_in_threadpool(
            passkeys.authentication, admin.site.engine, admin.holder, _party(request)
        )
        if found is not None:
            options, kept = found
            await run_in_threadpool(admin.console.sessions.keep_challenge, admin.session, kept)
    context = {"failure": "", "wait": 0, **context}
    return render(request, admin, "admin/mfa.html", status, factors=factors, options=options,
                  **context)  # fmt: skip


@factor_page
async def totp(request: Request, admin: Admin) -> Response:
    form = await posted_form(request)
    return await _give(request, admin, "totp", form.get("code", ""))


@factor_page
async def recovery(request: Request, admin: Admin) -> Response:
    form = await posted_form(request)
    return await _give(request, admin, "recovery", form.get("code", ""))


@factor_page
async def passkey(request: Request, admin: Admin) -> Response:
    form = await posted_form(request, MAX_RESPONSE)
    return await _give(request, admin, "passkey", form.get("response", ""))


async def _give(request: Request, admin: Admin, kind: str, answer: str) -> Response:
    if not admin.needs_second_factor:
        return RedirectResponse(admin.url("accounts"), 303)
    factors = await run_in_threadpool(_factors, admin)
    counted = await _begin_try(admin)
    if isinstance(counted, SignInLimited):
        wait = counted.retry_after
        return await _challenge_page(request, admin, factors, 429, failure="locked", wait=wait)
    verdict = await run_in_threadpool(_check, request, admin, kind, answer)
    if verdict == Verdict.ACCEPTED:
        await _passed(admin, counted)
        return await _given(admin)
    log.info("console: %s/%s gave a wrong %s", admin.tenant.id, admin.name, kind)
    return await _challenge_page(request, admin, factors, 401, failure=verdict.value)


def _check(request: Request, admin: Admin, kind: str, answer: str) -> Verdict:
    engine, holder, now = admin.site.engine, admin.holder, admin.site.clock()
    if kind == "totp":
        return second_factor.verify_totp(engine, admin.console.box, holder, answer[:64], now)
    if kind == "recovery":
        used = second_factor.use_recovery_code(engine, holder, answer[:64], now)
        return Verdict.ACCEPTED if used else Verdict.WRONG
    kept = admin.session.challenge
    admin.console.sessions.keep_challenge(admin.session, None)  # a challenge answers once
    if not kept:
        return Verdict.WRONG
    ok = passkeys.verify(engine, holder, _party(request), answer, kept, now)
    return Verdict.ACCEPTED if ok else Verdict.WRONG


# enrolling


def _may_enrol(admin: Admin, factors: Factors) -> bool:
    """Enrolling needs the session's second factor once the account has one."""
    return not (factors.any and admin.needs_second_factor)


@factor_page
async def enrol(request: Request, admin: Admin) -> Response:
    factors = await run_in_threadpool(_factors, admin)
    if not _may_enrol(admin, factors):
        return RedirectResponse(admin.url("mfa"), 303)
    return await _enrol_page(request, admin, fresh=True)


async def _enrol_page(
    request: Request, admin: Admin, *, fresh: bool, status: int = 200, failure: str = ""
) -> Response:
    engine, holder, issuer = admin.site.engine, admin.holder, _issuer(admin)
    box = admin.console.box
    shown = None
    if not fresh:
        shown = await run_in_threadpool(second_factor.pending_totp, engine, box, holder, issuer)
    if shown is None:
        shown = await run_in_threadpool(
            second_factor.begin_totp, engine, box, holder, issuer, admin.site.clock()
        )
    secret, uri = shown
    options, kept = await run_in_threadpool(passkeys.registration, engine, holder, _party(request))
    await run_in_threadpool(admin.console.sessions.keep_challenge, admin.session, kept)
    qr = segno.make(uri, error="m").svg_inline(scale=4, omitsize=False)
    return render(request, admin, "admin/mfa_enrol.html", status, secret=secret, qr=qr,
                  options=options, failure=failure, wait=0)  # fmt: skip


@factor_page
async def enrol_totp(request: Request, admin: Admin) -> Response:
    form = await posted_form(request)
    return await _enrolled(request, admin, "totp", form.get("code", ""))


@factor_page
async def enrol_passkey(request: Request, admin: Admin) -> Response:
    form = await posted_form(request, MAX_RESPONSE)
    return await _enrolled(request, admin, "passkey", form.get("response", ""))


async def _enrolled(request: Request, admin: Admin, kind: str, answer: str) -> Response:
    factors = await run_in_threadpool(_factors, admin)
    if not _may_enrol(admin, factors):
        return RedirectResponse(admin.url("mfa"), 303)
    counted = await _begin_try(admin)
    if isinstance(counted, SignInLimited):
        return render(request, admin, "admin/mfa_locked.html", 429, wait=counted.retry_after)
    codes = await run_in_threadpool(_enrol, request, admin, kind, answer)
    if codes is None:
        return await _enrol_page(request, admin, fresh=False, status=400, failure=kind)
    await _passed(admin, counted)
    await run_in_threadpool(admin.console.sessions.second_factor_given, admin.session)
    log.info("console: %s/%s enrolled a %s", admin.tenant.id, admin.name, kind)
    if not codes:  # not the first factor: the recovery codes it has stay
        return RedirectResponse(admin.url("security?added=" + kind), 303)
    return render(request, admin, "admin/recovery_codes.html", codes=codes, first=True)


def _enrol(request: Request, admin: Admin, kind: str, answer: str) -> list[str] | None:
    engine, holder, now = admin.site.engine, admin.holder, admin.site.clock()
    if kind == "totp":
        return second_factor.confirm_totp(engine, admin.console.box, holder, answer[:64], now)
    kept = admin.session.challenge
    admin.console.sessions.keep_challenge(admin.session, None)
    if not kept:
        return None
    return passkeys.finish_registration(engine, holder, _party(request), answer, kept, now)


# the administrator's own security page


@console_page(Privilege.VIEW)
async def security(request: Request, admin: Admin) -> Response:
    factors = await run_in_threadpool(_factors, admin)
    return render(request, admin, "admin/security.html", factors=factors,
                  added=request.query_params.get("added", ""))  # fmt: skip


@console_page(Privilege.VIEW)
async def renew_codes(request: Request, admin: Admin) -> Response:
    await posted_form(request)
    factors = await run_in_threadpool(_factors, admin)
    if not factors.any:  # recovery codes stand in for a factor; without one they mean nothing
        return RedirectResponse(admin.url("mfa/enrol"), 303)
    codes = await run_in_threadpool(
        second_factor.renew_recovery_codes, admin.site.engine, admin.holder, admin.site.clock()
    )
    return render(request, admin, "admin/recovery_codes.html", codes=codes, first=False)
