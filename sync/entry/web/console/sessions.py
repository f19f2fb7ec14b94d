"""The console session's cookie. The sessions themselves are in the store
(sync.services.console_auth): the browser holds only a random id in an HttpOnly,
SameSite=Strict cookie (`__Host-` prefixed and Secure over HTTPS).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sync.entry.web.csrf import private_cookie


def cookie_name(request: Request) -> str:
    return "__Host-clomo_admin" if request.url.scheme == "https" else "clomo_admin"


def session_id(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request))


def set_cookie(request: Request, response: Response, value: str) -> None:
    private_cookie(request, response, cookie_name(request), value, "strict")


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        cookie_name(request),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
