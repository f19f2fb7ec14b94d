"""The ASGI application: routes, error pages, and the guard around them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from sync.config.settings import Settings
from sync.entry.web import console, forgot, hooks, reset, scim
from sync.entry.web.console.console import Console
from sync.entry.web.csrf import Csrf
from sync.entry.web.forms import FormRefused
from sync.entry.web.middleware import Guard, rate_limited_page
from sync.entry.web.paths import DONE, FORGOT, SEND, STATIC, reset_paths
from sync.entry.web.ratelimit import RateLimited, RateLimits
from sync.entry.web.render import page
from sync.entry.web.scim.door import ScimDoor
from sync.entry.web.site import Site, signing_secret
from sync.timeutil import utc_now

STATIC_DIR = Path(__file__).resolve().parent / "static"
ERROR_KINDS = {404: "not_found", 405: "method"}


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utc_now,
    secret: str | None = None,
) -> ASGIApp:
    """The password pages and the administrators' console for every tenant of `settings`;
    `secret` defaults to web.secret_env."""
    # a secret given here or configured outlives the process: it may seal what is stored
    lasting = secret is not None or bool(settings.web.secret_env or settings.web.secret_file)
    secret = secret or signing_secret(settings)
    limits = RateLimits(settings.web)
    site = Site(
        settings,
        engine,
        Csrf(secret),
        URLSafeTimedSerializer(secret, salt="clomo-sync.entry.web.lookup"),
        limits,
        reset_paths(settings),
        clock,
        hashlib.sha256(b"clomo-sync.entry.web.pin\0" + secret.encode()).digest(),
    )
    app = Starlette(
        routes=_routes(site),
        exception_handlers={
            HTTPException: _http_error,
            FormRefused: _form_refused,
            RateLimited: _rate_limited,
            Exception: _server_error,
        },
    )
    app.state.site = site
    app.state.console = Console(settings.web, engine, secret, secret if lasting else None)
    app.state.scim = ScimDoor(settings, engine)
    return Guard(app, limits)


def _routes(site: Site) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", _home),
        Route(FORGOT, forgot.forgot, methods=["GET", "POST"]),
        Route(SEND, forgot.send, methods=["POST"]),
        Route(DONE, _done),
        Mount(STATIC, StaticFiles(directory=STATIC_DIR)),
    ]
    routes += [Route(path, reset.reset, methods=["GET", "POST"]) for path in site.reset_paths]
    routes += console.routes()
    routes += hooks.routes()
    routes += scim.routes()
    return routes


async def _home(_request: Request) -> Response:
    return RedirectResponse(FORGOT, 302)


async def _done(_request: Request) -> Response:
    return page("done.html")


async def _http_error(_request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    return page("error.html", code, kind=ERROR_KINDS.get(code, "bad_request"))


async def _form_refused(_request: Request, _exc: Exception) -> Response:
    return page("error.html", 403, kind="form_expired")


async def _rate_limited(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    return rate_limited_page(exc)


async def _server_error(_request: Request, _exc: Exception) -> Response:
    return page("error.html", 500, kind="server")
