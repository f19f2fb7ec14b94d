"""The SCIM endpoints: turn a request into a call of the SCIM service and its answer (or its
SCIMException) into `application/scim+json`."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
    Group,
    InvalidSyntaxException,
    NotFoundException,
    PayloadTooLargeException,
    Resource,
    ResponseParameters,
    SCIMException,
    UnauthorizedException,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sync.config.settings import TenantSettings
from sync.entry.web.scim import discovery
from sync.entry.web.scim.door import ScimDoor, door_of
from sync.services.scim import groups as group_service
from sync.services.scim import users as user_service
from sync.services.scim.resources import scim_errors
from sync.services.scim.search import Listing
from sync.services.scim.tokens import authorized

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/scim+json"
MAX_BODY = 1024 * 1024  # SPEC §17: a larger body is refused (413)
Handler = Callable[[Request, ScimDoor, TenantSettings], Awaitable[Response]]


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, default=str)
    return Response(text, status, headers, media_type=MEDIA_TYPE)


def refusal(exc: SCIMException, headers: dict[str, str] | None = None) -> Response:
    error = exc.to_error().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    error["status"] = str(exc.status)  # RFC 7644 §3.12 gives it as a string
    return answer(error, exc.status, headers)


def with_status(status: int, detail: str) -> SCIMException:
    """A SCIM error of a status no scim2-models exception class names (405, 429, 500, 501)."""
    exc = SCIMException(detail=detail)
    exc.status = status
    return exc


def scim(*methods: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Authenticates (401 for a missing or another tenant's token), limits per token (429),
    refuses other methods (405) and answers a SCIMException with its error body."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return _endpoint(handler, methods)

    return wrap


def _endpoint(
    handler: Handler, methods: tuple[str, ...]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        door = door_of(request)
        tenant_id = request.path_params["tenant"]
        tenant = await run_in_threadpool(authorized, door.engine, tenant_id, _bearer(request))
        if tenant is None:
            return refusal(
                UnauthorizedException(detail="a valid bearer token of this tenant is required"),
                {"WWW-Authenticate": 'Bearer realm="scim"'},
            )
        wait = door.limited(tenant)
        if wait is not None:
            too_many = with_status(429, "too many requests for this token")
            return refusal(too_many, {"Retry-After": str(wait)})
        if request.method not in methods:
            not_allowed = with_status(405, f"{request.method} is not served here")
            return refusal(not_allowed, {"Allow": ", ".join(methods)})
        try:
            return await handler(request, door, tenant)
        except SCIMException as exc:
            return refusal(exc)
        except Exception:  # an identity provider reads SCIM errors, not the HTML error page
            log.exception("SCIM %s %s failed", request.method, request.url.path)
            return refusal(with_status(500, "internal error; the server's log has it"))

    return endpoint


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > MAX_BODY:
        raise PayloadTooLargeException(detail=f"the body is over {MAX_BODY} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise PayloadTooLargeException(detail=f"the body is over {MAX_BODY} bytes")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSyntaxException(detail=f"the body is not JSON: {exc}") from None


def _base(request: Request, tenant: TenantSettings) -> str:
    return f"{str(request.base_url).rstrip('/')}/scim/v2/{tenant.id}"


def _shown(
    request: Request, resource: Resource[Any], base: str, context: Context
) -> dict[str, Any]:
    endpoint = "Groups" if isinstance(resource, Group) else "Users"
    if resource.meta is not None:
        resource.meta.location = f"{base}/{endpoint}/{resource.id}"
    for member in getattr(resource, "members", None) or ():
        member.ref = f"{base}/Users/{member.value}"
    params = _response_parameters(request, type(resource))
    with scim_errors():
        return resource.model_dump(scim_ctx=context, response_parameters=params)


def _response_parameters(request: Request, model: type[Resource[Any]]) -> Any:
    wanted = {
        k: v for k, v in request.query_params.items() if k in ("attributes", "excludedAttributes")
    }
    if not wanted:
        return None
    with scim_errors():
        return ResponseParameters[model].model_validate(wanted)  # type: ignore[valid-type]


def _listed(request: Request, listing: Listing[Any], base: str) -> Response:
    shown = [_shown(request, r, base, Context.SEARCH_RESPONSE) for r in listing.resources]
    return answer(discovery.list_body(listing.total, listing.start_index, shown))


def _created(request: Request, resource: Resource[Any], base: str) -> Response:
    body = _shown(request, resource, base, Context.RESOURCE_CREATION_RESPONSE)
    location = resource.meta.location if resource.meta else None
    return answer(body, 201, {"Location": location} if location else None)


# --- discovery ------------------------------------------------------------------------------


@scim("GET")
async def service_provider_config(
    request: Request, _door: ScimDoor, tenant: TenantSettings
) -> Response:
    return answer(discovery.service_provider_config(_base(request, tenant)))


@scim("GET")
async def resource_types(request: Request, _door: ScimDoor, tenant: TenantSettings) -> Response:
    found = discovery.resource_types(_base(request, tenant))
    return answer(discovery.list_body(len(found), 1, found))


@scim("GET")
async def resource_type(request: Request, _door: ScimDoor, tenant: TenantSettings) -> Response:
    return _one(discovery.resource_types(_base(request, tenant)), request.path_params["name"])


@scim("GET")
async def schemas(request: Request, _door: ScimDoor, tenant: TenantSettings) -> Response:
    found = discovery.schemas(_base(request, tenant))
    return answer(discovery.list_body(len(found), 1, found))


@scim("GET")
async def schema(request: Request, _door: ScimDoor, tenant: TenantSettings) -> Response:
    return _one(discovery.schemas(_base(request, tenant)), request.path_params["name"])


def _one(found: list[dict[str, Any]], name: str) -> Response:
    for item in found:
        if item.get("id") == name:
            return answer(item)
    raise NotFoundException(detail=f"no {name}")


@scim("POST")
async def search_everything(
    _request: Request, _door: ScimDoor, _tenant: TenantSettings
) -> Response:
    """RFC 7644 §3.4.3 lets a server decline searching every resource type at once (501); the
    identity providers this serves query /Users and /Groups."""
    raise with_status(501, "search /Users or /Groups instead")


@scim("GET", "POST", "PUT", "PATCH", "DELETE")
async def unknown(request: Request, _door: ScimDoor, _tenant: TenantSettings) -> Response:
    raise NotFoundException(detail=f"no endpoint {request.url.path}")


# --- users and groups -----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """The service calls behind one resource type's endpoints."""

    listing: Callable[..., Any]
    create: Callable[..., Any]
    calls: dict[str, Callable[..., Any]]


USERS = Kind(
    user_service.list_users,
    user_service.create_user,
    {
        "GET": user_service.get_user,
        "PUT": user_service.replace_user_resource,
        "PATCH": user_service.patch_user,
        "DELETE": user_service.delete_user_resource,
    },
)
GROUPS = Kind(
    group_service.list_groups,
    group_service.create_group,
    {
        "GET": group_service.get_group,
        "PUT": group_service.replace_group_resource,
        "PATCH": group_service.patch_group,
        "DELETE": group_service.delete_group_resource,
    },
)


@scim("GET", "POST")
async def users(request: Request, door: ScimDoor, tenant: TenantSettings) -> Response:
    return await _collection(request, door, tenant, USERS)


@scim("GET", "PUT", "PATCH", "DELETE")
async def user(request: Request, door: ScimDoor, tenant: TenantSettings) -> Response:
    return await _resource(request, door, tenant, USERS)


@scim("GET", "POST")
async def groups(request: Request, door: ScimDoor, tenant: TenantSettings) -> Response:
    return await _collection(request, door, tenant, GROUPS)


@scim("GET", "PUT", "PATCH", "DELETE")
async def group(request: Request, door: ScimDoor, tenant: TenantSettings) -> Response:
    return await _resource(request, door, tenant, GROUPS)


async def _collection(
    request: Request, door: ScimDoor, tenant: TenantSettings, kind: Kind
) -> Response:
    base = _base(request, tenant)
    if request.method == "GET":
        query = dict(request.query_params)
        found = await run_in_threadpool(kind.listing, door.engine, tenant.id, query)
        return _listed(request, found, base)
    body = await _body(request)
    created = await run_in_threadpool(kind.create, door.engine, tenant.id, body)
    door.pushed(tenant.id)
    return _created(request, created, base)


CONTEXTS = {
    "GET": Context.RESOURCE_QUERY_RESPONSE,
    "PUT": Context.RESOURCE_REPLACEMENT_RESPONSE,
    "PATCH": Context.RESOURCE_PATCH_RESPONSE,
}


async def _resource(
    request: Request, door: ScimDoor, tenant: TenantSettings, kind: Kind
) -> Response:
    method, resource_id = request.method, request.path_params["id"]
    args: list[Any] = [door.engine, tenant.id, resource_id]
    if method in ("PUT", "PATCH"):
        args.append(await _body(request))
    found = await run_in_threadpool(kind.calls[method], *args)
    if method != "GET":
        door.pushed(tenant.id)
    if method == "DELETE":
        return Response(status_code=204)
    return answer(_shown(request, found, _base(request, tenant), CONTEXTS[method]))
