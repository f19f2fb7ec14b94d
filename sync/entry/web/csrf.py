"""CSRF protection: a signed double-submit token.

A random nonce lives in an HttpOnly, SameSite=Lax cookie; every form carries the nonce signed
with the app's secret (itsdangerous, timestamped). A POST passes only when the form's token is
a fresh signature of the very nonce in the cookie. Signing means that an attacker who can plant
a cookie (from a sibling subdomain, say) still cannot make a matching form token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Literal

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

FIELD = "csrf"
MAX_AGE_SECONDS = 2 * 3600  # a form left open longer asks to be reloaded
NONCE_LENGTH = 43  # secrets.token_urlsafe(32)


class Csrf:
    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="clomo-sync.entry.web.csrf")

    def issue(self, request: Request) -> tuple[str, str | None]:
        """(the form token, a new nonce to set as the cookie, or None to keep the cookie)."""
        nonce = request.cookies.get(cookie_name(request))
        fresh = None
        if not nonce or len(nonce) != NONCE_LENGTH:
            nonce = fresh = secrets.token_urlsafe(32)
        return self._signer.dumps(nonce), fresh

    def valid(self, request: Request, form_token: str) -> bool:
        nonce = request.cookies.get(cookie_name(request))
        if not nonce or not form_token:
            return False
        try:
            signed = self._signer.loads(form_token, max_age=MAX_AGE_SECONDS)
        except BadData:
            return False
        return isinstance(signed, str) and hmac.compare_digest(signed, nonce)


def cookie_name(request: Request) -> str:
    # the __Host- prefix makes a browser refuse the cookie unless Secure, host-only and Path=/
    return "__Host-clomo_csrf" if request.url.scheme == "https" else "clomo_csrf"


def set_cookie(request: Request, response: Response, nonce: str) -> None:
    private_cookie(request, response, cookie_name(request), nonce, "lax")


def private_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    """A cookie scripts cannot read, sent to this site only, Secure over https (the CSRF
    nonce's, the console's session and its single sign-on's state)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite=samesite,
    )
