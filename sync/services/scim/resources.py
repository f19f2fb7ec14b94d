"""scim2-models' resources as the service uses them: parsing a request's body under the
tolerant policy identity providers need, and the stored JSON in and out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from scim2_models import (
    Context,
    Email,
    EnterpriseUser,
    Error,
    InvalidSyntaxException,
    InvalidValueException,
    Meta,
    PatchOp,
    Resource,
    SCIMException,
    ScimPolicy,
    UniquenessException,
    User,
)
from sqlalchemy import Connection

from sync.store.scim import ScimRecord, name_holder


class LooseEmail(Email):
    """An address as the identity provider holds it. scim2-models checks addresses with
    email-validator, which refuses special-use domains: Okta's own examples use
    `okta.local`, and Active Directory forests often have `corp.local` addresses."""

    value: str | None = None


class PushedUser(User[EnterpriseUser]):
    # narrower in what it refuses, wider in what it holds: pydantic validates the override
    emails: list[LooseEmail] | None = None  # type: ignore[assignment]


PushedUser.__name__ = "User"  # the name its schema and resource type are published under
ScimUser = PushedUser
R = TypeVar("R", bound=Resource[Any])
M = TypeVar("M", bound="Resource[Any] | PatchOp[Any]")  # a string: PatchOp[Any] is refused

# What identity providers send, accepted (SPEC §17): unknown attributes are ignored (RFC 7644
# §3.3 lets a provider ignore them; Entra and Okta send their own); Entra removes group
# members by a `value` list and replaces `emails[type eq "work"].value` on users without one.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@contextmanager
def scim_errors() -> Iterator[None]:
    """Runs under POLICY; a pydantic error becomes the SCIM error it describes."""
    try:
        with POLICY:
            yield
    except ValidationError as exc:
        raise as_scim_error(exc) from None


def as_scim_error(exc: ValidationError) -> SCIMException:
    error = Error.from_validation_errors(exc)[0]
    found = SCIMException.from_error(error)
    if found.scim_type is None:
        found = InvalidValueException(detail=error.detail)
    return found


def parse(model: type[M], body: Any, context: Context) -> M:
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="the request body is not a JSON object")
    with scim_errors():
        return cast(M, model.model_validate(body, scim_ctx=context))


def stored_json(resource: Resource[Any]) -> dict[str, Any]:
    """What the store keeps: the resource without its server-assigned id and meta."""
    with POLICY:
        data = resource.model_dump(mode="json", exclude_none=True)
    data.pop("id", None)
    data.pop("meta", None)
    data.pop("password", None)  # never kept: CLOMO passwords are set by their owners
    return data


def loaded(model: type[R], record: ScimRecord, extra: dict[str, Any] | None = None) -> R:
    """The stored resource as a model, with its id and meta (location left to the caller)."""
    resource = model.model_validate({**record.resource, **(extra or {}), "id": record.id})
    resource.meta = Meta(
        resource_type=str(model.__schema__).rsplit(":", 1)[-1],
        created=record.created_at,
        last_modified=record.updated_at,
        version=etag(record.version),
    )
    return resource


def etag(version: int) -> str:
    return f'W/"{version}"'


def name_free(conn: Connection, kind: str, tenant_id: str, name: str, own_id: str | None) -> None:
    """Refuses a userName (kind "User") or group displayName ("Group") another resource of
    the tenant holds, without regard to case (409 `uniqueness`)."""
    holder = name_holder(conn, kind, tenant_id, name)
    if holder is not None and holder != own_id:
        raise taken(kind, name)


def taken(kind: str, name: str) -> UniquenessException:
    what = "userName" if kind == "User" else "displayName"
    return UniquenessException(detail=f"{what} {name!r} is already taken")
