"""The tenant administrators' console (SPEC §12) under `/admin/{tenant}/`: sign-in, the
tenant's settings with a preview of their effect, accounts, runs and held change sets.

Pages are server-rendered like the password pages and share their CSRF tokens, rate limits,
security headers and error pages; every change goes through the services the CLI uses, as the
signed-in administrator, so it is checked by the same rules and recorded in the audit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sync.entry.web.console import accounts, audit, changes, mfa, oidc, runs, settings, signin
from sync.entry.web.console.console import requested_tenant

PREFIX = "/admin/{tenant}"


async def _home(request: Request) -> Response:
    tenant = requested_tenant(request)
    return RedirectResponse(f"/admin/{tenant.id}/accounts", 302)


def routes() -> list[BaseRoute]:
    both, post = ["GET", "POST"], ["POST"]
    return [
        Route(PREFIX, _home),
        Route(PREFIX + "/", _home),
        Route(PREFIX + "/login", signin.login, methods=both),
        Route(PREFIX + "/logout", signin.logout, methods=post),
        Route(PREFIX + "/mfa", mfa.challenge),
        Route(PREFIX + "/mfa/totp", mfa.totp, methods=post),
        Route(PREFIX + "/mfa/passkey", mfa.passkey, methods=post),
        Route(PREFIX + "/mfa/recovery", mfa.recovery, methods=post),
        Route(PREFIX + "/mfa/enrol", mfa.enrol),
        Route(PREFIX + "/mfa/enrol/totp", mfa.enrol_totp, methods=post),
        Route(PREFIX + "/mfa/enrol/passkey", mfa.enrol_passkey, methods=post),
        Route(PREFIX + "/security", mfa.security),
        Route(PREFIX + "/security/recovery-codes", mfa.renew_codes, methods=post),
        Route(PREFIX + "/oidc/start", oidc.start),
        Route(PREFIX + "/oidc/callback", oidc.callback),
        Route(PREFIX + "/settings", settings.show),
        Route(PREFIX + "/settings/preview", settings.preview_page, methods=post),
        Route(PREFIX + "/settings/save", settings.save, methods=post),
        Route(PREFIX + "/accounts", accounts.listing),
        Route(PREFIX + "/accounts/{name}", accounts.detail),
        Route(PREFIX + "/accounts/{name}/edit", accounts.edit, methods=post),
        Route(PREFIX + "/accounts/{name}/explain", accounts.explained),
        Route(PREFIX + "/accounts/{name}/reset", accounts.send_reset, methods=post),
        Route(PREFIX + "/runs", runs.listing),
        Route(PREFIX + "/runs/resync", runs.resync, methods=post),
        Route(PREFIX + "/runs/{run_id}", runs.show),
        Route(PREFIX + "/audit", audit.page),
        Route(PREFIX + "/audit/export", audit.download),
        Route(PREFIX + "/changes", changes.listing),
        Route(PREFIX + "/changes/{set_id}", changes.show),
        Route(PREFIX + "/changes/{set_id}/approve", changes.approve, methods=post),
        Route(PREFIX + "/changes/{set_id}/reject", changes.reject, methods=post),
    ]
