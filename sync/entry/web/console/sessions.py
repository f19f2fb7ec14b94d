"""Console sessions, kept on the server (in this process's memory, like the rate limits).

The browser holds only a random id in an HttpOnly, SameSite=Strict cookie (`__Host-` prefixed
and Secure over HTTPS). A session ends when it has been unused for `session_idle_minutes`, at
the latest `session_max_hours` after signing in, and at once on signing out: a server-side
session can be ended for real, which a signed cookie cannot. A restart signs everyone out.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from sync.entry.web.csrf import private_cookie

MAX_SESSIONS = 10_000  # a flood of sign-ins cannot grow the table without bound


@dataclass(slots=True)
class Session:
    id: str
    tenant_id: str
    account_id: int
    started: float  # seconds since the epoch, by the site's clock
    seen: float
    via: str = "password"  # or "oidc": single sign-on, which needs no password on the account


class Sessions:
    def __init__(self, idle_seconds: float, max_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, tenant_id: str, account_id: int, now: float, via: str = "password") -> Session:
        session = Session(secrets.token_urlsafe(32), tenant_id, account_id, now, now, via)
        with self._lock:
            if len(self._by_id) >= MAX_SESSIONS:
                self._sweep(now)
            if len(self._by_id) >= MAX_SESSIONS:  # all live: the oldest one goes
                oldest = min(self._by_id.values(), key=lambda s: s.started)
                del self._by_id[oldest.id]
            self._by_id[session.id] = session
        return session

    def find(self, session_id: str | None, now: float) -> Session | None:
        """The live session of that id, marked as used now; None when unknown or expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._by_id[session_id]
                return None
            session.seen = now
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)

    def _expired(self, session: Session, now: float) -> bool:
        idle = now - session.seen > self.idle_seconds
        return idle or now - session.started > self.max_seconds

    def _sweep(self, now: float) -> None:
        for session in [s for s in self._by_id.values() if self._expired(s, now)]:
            del self._by_id[session.id]


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
