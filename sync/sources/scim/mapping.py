"""A pushed SCIM user as a directory user (SPEC §17): source_id is the id we assigned,
primary_email the address marked primary (else the work one, else the first), employee_code
the enterprise extension's employeeNumber."""

from __future__ import annotations

from typing import Any

from sync.model import DirectoryUser
from sync.model.pushed import PushedUser

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def to_user(pushed: PushedUser, groups: frozenset[str]) -> DirectoryUser:
    resource = pushed.resource
    emails = [e for e in resource.get("emails") or () if isinstance(e, dict) and e.get("value")]
    name = resource.get("name") or {}
    enterprise = resource.get(ENTERPRISE) or {}
    return DirectoryUser(
        pushed.id,
        pushed.active,
        primary_email=_primary(emails),
        emails=tuple(str(e["value"]) for e in emails),
        employee_code=_text(enterprise.get("employeeNumber")),
        given_name=_text(name.get("givenName")),
        family_name=_text(name.get("familyName")),
        display_name=_text(resource.get("displayName")),
        user_name=_text(resource.get("userName")),
        updated_at=pushed.updated_at.isoformat(),
        groups=groups,
    )


def _primary(emails: list[dict[str, Any]]) -> str | None:
    for choose in (lambda e: e.get("primary") is True, lambda e: e.get("type") == "work"):
        found = next((e for e in emails if choose(e)), None)
        if found is not None:
            return str(found["value"])
    return str(emails[0]["value"]) if emails else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
