"""Groups pushed by an identity provider (SPEC §17): named by `displayName` in a tenant's
`[tenants.scope]` and `[[tenants.roles]]`; members are users of the same directory."""

from __future__ import annotations

import uuid
from typing import Any

from scim2_models import (
    Context,
    Group,
    InvalidValueException,
    MutabilityException,
    NotFoundException,
    PatchOp,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from sync.services.scim.resources import loaded, name_free, parse, scim_errors, stored_json, taken
from sync.services.scim.search import Listing, paged, search_request
from sync.store.engine import writing
from sync.store.scim import (
    ScimRecord,
    add_group,
    delete_group,
    group_records,
    known_user_ids,
    mark_pushed,
    members,
    replace_group,
    set_members,
)
from sync.timeutil import utc_now


def create_group(engine: Engine, tenant_id: str, body: Any) -> Group:
    group = parse(Group, body, Context.RESOURCE_CREATION_REQUEST)
    group_id, now = str(uuid.uuid4()), utc_now()
    try:
        with writing(engine) as conn:
            name_free(conn, "Group", tenant_id, str(group.display_name), None)
            add_group(conn, tenant_id, group_id, _group_json(group), now)
            set_members(conn, group_id, {}, _member_ids(conn, tenant_id, group))
            mark_pushed(conn, tenant_id, now)
            return _load(conn, tenant_id, group_id)
    except IntegrityError:
        raise taken("Group", str(group.display_name)) from None


def get_group(engine: Engine, tenant_id: str, group_id: str) -> Group:
    with engine.connect() as conn:
        return _load(conn, tenant_id, group_id)


def list_groups(engine: Engine, tenant_id: str, query: dict[str, str]) -> Listing[Group]:
    search = search_request(Group, query)
    with engine.connect() as conn:
        records = group_records(conn, tenant_id)
        held = members(conn, [r.id for r in records])
    return paged(search, records, lambda r: _as_group(r, held[r.id]))


def replace_group_resource(engine: Engine, tenant_id: str, group_id: str, body: Any) -> Group:
    group = parse(Group, body, Context.RESOURCE_REPLACEMENT_REQUEST)
    if group.id is not None and group.id != group_id:
        raise MutabilityException(detail="id cannot be changed")
    return _save(engine, tenant_id, group_id, lambda _old: group)


def patch_group(engine: Engine, tenant_id: str, group_id: str, body: Any) -> Group:
    """PATCH: members added or removed (by a filter path, or Entra's `value` list), or the
    displayName replaced."""
    operations = parse(PatchOp[Group], body, Context.RESOURCE_PATCH_REQUEST)

    def patched(old: Group) -> Group:
        with scim_errors():
            operations.patch(old)
        return old

    return _save(engine, tenant_id, group_id, patched)


def delete_group_resource(engine: Engine, tenant_id: str, group_id: str) -> None:
    with writing(engine) as conn:
        if not delete_group(conn, tenant_id, group_id):
            raise NotFoundException(detail=f"no group {group_id}")
        mark_pushed(conn, tenant_id, utc_now())


def _save(engine: Engine, tenant_id: str, group_id: str, change: Any) -> Group:
    now = utc_now()
    with writing(engine) as conn:
        record = _found(conn, tenant_id, group_id)
        old_members = members(conn, [group_id])[group_id]
        before = _as_group(record, old_members)
        after: Group = change(before)
        name_free(conn, "Group", tenant_id, str(after.display_name), group_id)
        new_members = _member_ids(conn, tenant_id, after)
        data = _group_json(after)
        if data != record.resource or new_members != old_members:
            replace_group(conn, tenant_id, record, data, now)
            set_members(conn, group_id, old_members, new_members)
            mark_pushed(conn, tenant_id, now)
        return _load(conn, tenant_id, group_id)


def _group_json(group: Group) -> dict[str, Any]:
    data = stored_json(group)
    data.pop("members", None)  # kept as rows of scim_members
    return data


def _member_ids(conn: Connection, tenant_id: str, group: Group) -> dict[str, str | None]:
    """The group's members: user id -> the display the identity provider gave."""
    wanted = {str(m.value): m.display for m in group.members or () if m.value}
    unknown = set(wanted) - known_user_ids(conn, tenant_id, wanted)
    if unknown:
        raise InvalidValueException(detail=f"members: no such user {sorted(unknown)[0]}")
    return wanted


def _load(conn: Connection, tenant_id: str, group_id: str) -> Group:
    record = _found(conn, tenant_id, group_id)
    return _as_group(record, members(conn, [group_id])[group_id])


def _as_group(record: ScimRecord, held: dict[str, str | None]) -> Group:
    listed = [
        {"value": uid, "type": "User", **({"display": shown} if shown else {})}
        for uid, shown in held.items()
    ]
    return loaded(Group, record, {"members": listed} if listed else None)


def _found(conn: Connection, tenant_id: str, group_id: str) -> ScimRecord:
    found = group_records(conn, tenant_id, [group_id])
    if not found:
        raise NotFoundException(detail=f"no group {group_id}")
    return found[0]
