"""SCIM 2.0 at `/scim/v2/{tenant}/` (SPEC §17, RFC 7644): protocol only. Each request is
authenticated by the tenant's bearer token, limited per token, parsed, handed to the SCIM
service (sync.services.scim) and answered in `application/scim+json`; a push that changed the
directory wakes the settler (sync.entry.web.scim.settle), which starts the tenant's run."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from sync.entry.web.paths import SCIM
from sync.entry.web.scim import endpoints

PREFIX = SCIM + "/v2"


ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def routes() -> list[BaseRoute]:
    """Every path takes every method, so that a method a path does not serve is a SCIM 405
    rather than falling through to the catch-all's 404."""
    e = endpoints
    served = [
        ("/ServiceProviderConfig", e.service_provider_config),
        ("/ResourceTypes", e.resource_types),
        ("/ResourceTypes/{name}", e.resource_type),
        ("/Schemas", e.schemas),
        ("/Schemas/{name}", e.schema),
        ("/Users", e.users),
        ("/Users/{id}", e.user),
        ("/Groups", e.groups),
        ("/Groups/{id}", e.group),
        ("/.search", e.search_everything),
        ("/{rest:path}", e.unknown),
    ]
    return [Mount(PREFIX + "/{tenant}", routes=[Route(p, f, methods=ALL) for p, f in served])]
