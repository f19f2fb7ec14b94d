"""What every response gets, in one pure ASGI layer outside the app (so even a 500 has it):
security headers, a bound on request bodies, the per-address rate limit and an access log that
records paths without their query strings (where the reset token travels)."""

from __future__ import annotations

import logging
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.entry.web.paths import ADMIN, HOOKS, SCIM, STATIC
from sync.entry.web.ratelimit import RateLimited, RateLimits
from sync.entry.web.render import page

access_log = logging.getLogger("sync.entry.web.access")

MAX_BODY = 16 * 1024  # the largest form is a password twice and a token
# the console's account form carries a memo of up to 4,000 characters: Japanese, URL-encoded,
# that is 36 KB
MAX_CONSOLE_BODY = 64 * 1024
MAX_HOOK_BODY = 1024 * 1024  # SPEC §16: a webhook's body
SECURITY_HEADERS = {
    # no script at all; styles and images from this origin only; forms post here only
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"
# the second-factor pages run one script, this origin's /static/passkey.js (WebAuthn has no
# form-only way); every other page runs none
PASSKEY_PAGES = re.compile(r"^/admin/[^/]+/mfa(/[a-z/]*)?$")
PASSKEY_POLICY = SECURITY_HEADERS["Content-Security-Policy"].replace(
    "script-src 'none'", "script-src 'self'"
)


class Guard:
    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _secure(MutableHeaders(scope=message), scope)
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                await self.app(scope, receive, send_with_headers)
            else:
                await refusal(scope, receive, send_with_headers)
        finally:
            client = scope.get("client") or ("unknown", 0)
            access_log.info(
                '%s "%s %s" %d %.0fms',
                client[0],
                scope["method"],
                scope["path"],  # the path only: never the query string
                status,
                (time.monotonic() - started) * 1000,
            )

    def _refusal(self, scope: Scope) -> HTMLResponse | None:
        """A response that refuses the request before the app sees it, or None."""
        if scope["path"].startswith(SCIM + "/"):
            return None  # SCIM bounds its own bodies (1 MiB) and rates (per token, SPEC §17)
        if scope["method"] == "POST":
            length = Headers(scope=scope).get("content-length")
            if length is None or not length.isdecimal():
                return page("error.html", 411, kind="length")
            bound = MAX_CONSOLE_BODY if scope["path"].startswith(ADMIN + "/") else MAX_BODY
            if scope["path"].startswith(HOOKS + "/"):
                bound = MAX_HOOK_BODY
            if int(length) > bound:
                return page("error.html", 413, kind="too_large")
        path: str = scope["path"]
        # a webhook is checked by its token and costs one coalesced run: an HR system's burst
        # of changes must not be refused by the per-address page limit
        if path.startswith((STATIC + "/", HOOKS + "/")):
            return None
        client = scope.get("client") or ("unknown", 0)
        try:
            self.limits.address(client[0])
        except RateLimited as exc:
            return rate_limited_page(exc)
        return None


def rate_limited_page(exc: RateLimited) -> HTMLResponse:
    return page("error.html", 429, {"Retry-After": str(exc.retry_after)}, kind="rate_limited")


def _secure(headers: MutableHeaders, scope: Scope) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if PASSKEY_PAGES.match(scope["path"]):
        headers["Content-Security-Policy"] = PASSKEY_POLICY
    if not scope["path"].startswith(STATIC + "/"):
        headers["Cache-Control"] = "no-store"  # nothing but the stylesheet is kept anywhere
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = HSTS
