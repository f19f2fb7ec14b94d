"""What every page shares: settings, store, secrets, rate limits, clock."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine
from starlette.requests import Request

from sync.config.secrets import read_secret, web_secret_problem
from sync.config.settings import Settings
from sync.entry.web.csrf import Csrf
from sync.entry.web.ratelimit import RateLimits
from sync.errors import ConfigError, StopRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Site:
    settings: Settings
    engine: Engine
    csrf: Csrf
    lookups: URLSafeTimedSerializer  # signs the account a person looked up, for the next step
    limits: RateLimits
    reset_paths: dict[str, tuple[str, ...]]
    clock: Callable[[], datetime]
    pin_key: bytes

    def pin(self, addresses: tuple[str, ...]) -> str:
        """Pins the list of addresses a person chose from, so a list changed meanwhile asks
        again. Keyed: the signed form value is readable, and an unkeyed hash in it would let
        anyone confirm guesses of the masked addresses offline."""
        text = "\n".join(addresses).encode()
        return hmac.new(self.pin_key, text, hashlib.sha256).hexdigest()[:32]


def signing_secret(settings: Settings) -> str:
    """web.secret_env / secret_file; without either, a random secret for this process only. An
    unusable secret is a configuration error (exit 2, as `config check` says it)."""
    web = settings.web
    try:
        secret = read_secret("web.secret", web.secret_env, web.secret_file)
    except StopRun as exc:
        raise ConfigError([f"{settings.path}: {exc}"]) from None
    if secret is None:
        log.warning(
            "web.secret_env / web.secret_file unset: forms are signed with a per-process secret "
            "(open forms fail after a restart, and several processes cannot share the load)"
        )
        return secrets.token_urlsafe(32)
    problem = web_secret_problem(secret)
    if problem:
        key = "web.secret_env" if web.secret_env else "web.secret_file"
        raise ConfigError([f"{settings.path}: {key}: {problem}"])
    return secret


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site
