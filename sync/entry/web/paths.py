"""Which URL paths serve reset links: the path of each tenant's `reset_url`.

`https://panel.example.com/password/reset?token={token}` is served at `/password/reset`, with the
token read from the `token` query parameter. Only the path counts: the host is whatever the proxy
in front of this app answers for. A token anywhere but a query parameter's value is not served,
because a path carrying the token ends up in every access log on the way.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

from sync.config.settings import Settings
from sync.errors import ConfigError

log = logging.getLogger(__name__)

FORGOT = "/password/forgot"
SEND = "/password/forgot/send"
DONE = "/password/done"
STATIC = "/static"
ADMIN = "/admin"  # the administrators' console (sync.entry.web.console)
HOOKS = "/hooks"  # HR webhooks (sync.entry.web.hooks)
SCIM = "/scim"  # identity providers' pushes (sync.entry.web.scim)
OWN_PATHS = ("/", FORGOT, SEND, DONE)


def token_parameter(reset_url: str) -> tuple[str, str] | None:
    """(path, query parameter holding the token), or None when the token is elsewhere."""
    parts = urlsplit(reset_url)
    if "{token}" in parts.path or "{token}" in parts.fragment:
        return None
    names = [k for k, v in parse_qsl(parts.query, keep_blank_values=True) if v == "{token}"]
    if len(names) != 1:
        return None
    return parts.path or "/", names[0]


def reset_paths(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each path to serve and the query parameters that may hold the token there."""
    paths: dict[str, list[str]] = {}
    for tenant in settings.tenants:
        if tenant.auth_type != "password" or not tenant.reset_url:
            continue
        place = token_parameter(tenant.reset_url)
        if place is None:
            log.warning(
                "tenant %s: reset_url carries the token outside a query parameter; "
                "this app does not serve its links",
                tenant.id,
            )
            continue
        path, name = place
        reserved = (STATIC, ADMIN, SCIM)
        if path in OWN_PATHS or any(path == p or path.startswith(p + "/") for p in reserved):
            raise ConfigError(
                [
                    f"{settings.path}: tenants[{tenant.id}].reset_url: the path {path} is one "
                    "of the password pages' own"
                ]
            )
        names = paths.setdefault(path, [])
        if name not in names:
            names.append(name)
    return {path: tuple(names) for path, names in paths.items()}
