"""What the server says about itself (RFC 7643 §5–§7): ServiceProviderConfig, ResourceTypes
and Schemas, built from the scim2-models resources the service uses."""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Group,
    Meta,
    Patch,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
)

from sync.services.scim.resources import ScimUser
from sync.services.scim.search import MAX_RESULTS

MODELS: dict[str, Any] = {"User": ScimUser, "Group": Group}
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ENDPOINTS = {"User": "/Users", "Group": "/Groups"}


def service_provider_config(base: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="The tenant's token from `clomo-sync tenants scim-token TENANT`",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def resource_types(base: str) -> list[dict[str, Any]]:
    found = []
    for name, model in MODELS.items():
        kind = ResourceType.from_resource(model)
        kind.id = name
        kind.endpoint = ENDPOINTS[name]  # type: ignore[assignment]
        kind.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{name}")
        found.append(kind.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return found


def schemas(base: str) -> list[dict[str, Any]]:
    found = []
    for schema in _schemas():
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        found.append(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return found


def _schemas() -> list[Schema]:
    extensions = [ext.to_schema() for ext in ScimUser.get_extension_models().values()]
    return [ScimUser.to_schema(), Group.to_schema(), *extensions]


def list_body(total: int, start: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2) of resources already serialised."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
