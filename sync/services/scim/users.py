"""Users pushed by an identity provider (SPEC §17): each call one transaction on the tenant's
SCIM directory. Accounts are never touched here: the tenant's next run reads the directory."""

from __future__ import annotations

import uuid
from typing import Any

from scim2_models import (
    Context,
    MutabilityException,
    NotFoundException,
    PatchOp,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from sync.services.scim.resources import (
    ScimUser,
    loaded,
    name_free,
    parse,
    scim_errors,
    stored_json,
    taken,
)
from sync.services.scim.search import Listing, narrowing, paged, search_request
from sync.store.engine import writing
from sync.store.scim import (
    ScimRecord,
    add_user,
    delete_user,
    mark_pushed,
    replace_user,
    user_record,
    user_records,
)
from sync.timeutil import utc_now


def create_user(engine: Engine, tenant_id: str, body: Any) -> ScimUser:
    user = parse(ScimUser, body, Context.RESOURCE_CREATION_REQUEST)
    data = stored_json(user)
    now = utc_now()
    user_id = str(uuid.uuid4())
    try:
        with writing(engine) as conn:
            name_free(conn, "User", tenant_id, data["userName"], None)
            record = add_user(conn, tenant_id, user_id, data, now)
            mark_pushed(conn, tenant_id, now)
    except IntegrityError:  # the same userName pushed twice at once: one of them wins
        raise taken("User", data["userName"]) from None
    return loaded(ScimUser, record)


def get_user(engine: Engine, tenant_id: str, user_id: str) -> ScimUser:
    with engine.connect() as conn:
        return loaded(ScimUser, _found(conn, tenant_id, user_id))


def list_users(engine: Engine, tenant_id: str, query: dict[str, str]) -> Listing[ScimUser]:
    search = search_request(ScimUser, query)
    keys = narrowing(search.filter.ast) if search.filter is not None else {}
    with engine.connect() as conn:
        records = user_records(conn, tenant_id, **keys)
    return paged(search, records, lambda r: loaded(ScimUser, r))


def replace_user_resource(engine: Engine, tenant_id: str, user_id: str, body: Any) -> ScimUser:
    """PUT. A body without `active` keeps the user's state: Okta's full PUT leaves it out,
    and dropping it must not suspend anybody (SPEC §17)."""
    user = parse(ScimUser, body, Context.RESOURCE_REPLACEMENT_REQUEST)
    data = stored_json(user)
    if user.id is not None and user.id != user_id:
        raise MutabilityException(detail="id cannot be changed")
    now = utc_now()
    try:
        with writing(engine) as conn:
            record = _found(conn, tenant_id, user_id)
            if not any(key.lower() == "active" for key in body):
                data.pop("active", None)
                if "active" in record.resource:
                    data["active"] = record.resource["active"]
            name_free(conn, "User", tenant_id, data["userName"], user_id)
            if data != record.resource:
                record = replace_user(conn, tenant_id, record, data, now)
                mark_pushed(conn, tenant_id, now)
    except IntegrityError:
        raise taken("User", data["userName"]) from None
    return loaded(ScimUser, record)


def patch_user(engine: Engine, tenant_id: str, user_id: str, body: Any) -> ScimUser:
    """PATCH in every shape Entra ID and Okta send (with or without `path`, any case)."""
    operations = parse(PatchOp[ScimUser], _manager_as_complex(body), Context.RESOURCE_PATCH_REQUEST)
    now = utc_now()
    try:
        with writing(engine) as conn:
            record = _found(conn, tenant_id, user_id)
            user = loaded(ScimUser, record)
            with scim_errors():
                changed = operations.patch(user)
            data = stored_json(user)
            if changed and data != record.resource:
                name_free(conn, "User", tenant_id, data["userName"], user_id)
                record = replace_user(conn, tenant_id, record, data, now)
                mark_pushed(conn, tenant_id, now)
    except IntegrityError:
        raise taken("User", str(user.user_name)) from None
    return loaded(ScimUser, record)


def _manager_as_complex(body: Any) -> Any:
    """Entra ID's default mapping sends the enterprise `manager` as the manager's id alone
    (`"value": "26118915-..."`), where RFC 7643 §4.3 has a complex `{"value": id}`: taken as
    that, rather than refused (a refused request counts toward Entra's quarantine)."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return body
    operations = []
    for operation in body["Operations"]:
        if (
            isinstance(operation, dict)
            and str(operation.get("path", "")).lower().endswith(":manager")
            and isinstance(operation.get("value"), str)
        ):
            operation = {**operation, "value": {"value": operation["value"]}}
        operations.append(operation)
    return {**body, "Operations": operations}


def delete_user_resource(engine: Engine, tenant_id: str, user_id: str) -> None:
    """DELETE disables the person's account at the next run; nothing leaves the store."""
    now = utc_now()
    with writing(engine) as conn:
        if not delete_user(conn, tenant_id, user_id, now):
            raise NotFoundException(detail=f"no user {user_id}")
        mark_pushed(conn, tenant_id, now)


def _found(conn: Connection, tenant_id: str, user_id: str) -> ScimRecord:
    record = user_record(conn, tenant_id, user_id)
    if record is None:
        raise NotFoundException(detail=f"no user {user_id}")
    return record
