"""Graph user properties: the `$select`, and a Graph user as a directory user.

A tenant maps an attribute to a property name (`employeeId`), a nested one
(`onPremisesExtensionAttributes.extensionAttribute1`), or for `emails` several separated by
commas. `proxyAddresses` values count only when they are SMTP addresses (`SMTP:` is the primary,
`smtp:` the others); the prefix is dropped. User resource:
https://learn.microsoft.com/graph/api/resources/user
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason, user_from
from sync.sources.base import ReadRequest, read_dates

DEFAULT_FIELDS: dict[str, str] = {
    "source_id": "id",
    "primary_email": "mail",
    "emails": "mail,otherMails,proxyAddresses",
    "employee_code": "employeeId",
    "given_name": "givenName",
    "family_name": "surname",
    "display_name": "displayName",
}
# SPEC §16's dates, read when the tenant maps them: `employeeLeaveDateTime` needs the Graph
# permission User-LifeCycleInfo.Read.All, which tenants set up before it lack (docs/entra_id.md)
DATE_PROPERTIES = {"start_date": "employeeHireDate", "end_date": "employeeLeaveDateTime"}
STATUS_PROPERTY = "accountEnabled"  # false: the account cannot sign in, so it is inactive
PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

Path = tuple[str, ...]


def parse_properties(text: str, where: str) -> tuple[Path, ...]:
    """ValueError naming `where` for anything that is not a (dotted) property name."""
    names = [name.strip() for name in text.split(",")]
    bad = [name for name in names if not PROPERTY.fullmatch(name)]
    if bad or not names:
        raise ValueError(
            f"{where}: {bad[0] if bad else text!r} is not a Graph user property; write for "
            "example 'employeeId' or 'onPremisesExtensionAttributes.extensionAttribute1'"
        )
    return tuple(tuple(name.split(".")) for name in names)


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """The properties a read needs, from the request and the tenant's mapping."""

    paths: dict[str, tuple[Path, ...]]
    extra: dict[str, Path]

    def select(self) -> str:
        """`$select`: users/delta returns only default properties unless they are named."""
        tops = {"id", STATUS_PROPERTY}
        tops |= {path[0] for paths in self.paths.values() for path in paths}
        tops |= {path[0] for path in self.extra.values()}
        return ",".join(sorted(tops))


def plan_fields(request: ReadRequest, overrides: dict[str, str]) -> FieldPlan:
    """ValueError for a property that is not a name, or a required attribute no property holds."""
    mapping = {**DEFAULT_FIELDS, **overrides}
    unmapped = sorted(request.required - set(mapping) - {"active"})
    if unmapped:
        raise ValueError(
            f"Entra ID has no default property for {', '.join(unmapped)}; map one in "
            "[tenants.source.attributes] (e.g. 'onPremisesExtensionAttributes.extensionAttribute1')"
        )
    wanted = ({"source_id", *DATE_PROPERTIES} | request.attributes) & set(mapping)
    paths = {a: parse_properties(mapping[a], f"attributes.{a}") for a in sorted(wanted)}
    extra = {n: parse_properties(n, "lookup field")[0] for n in sorted(request.extra_fields)}
    return FieldPlan(paths, extra)


def resolve(resource: dict[str, Any], path: Path) -> Any:
    node: Any = resource
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def texts(node: Any, proxy: bool = False) -> list[str]:
    """Every non-empty text of a value; for proxyAddresses only SMTP addresses, unprefixed."""
    if isinstance(node, list):
        return [text for item in node for text in texts(item, proxy)]
    if isinstance(node, bool | int | float):
        node = str(node)
    if not isinstance(node, str) or not node.strip():
        return []
    text = node.strip()
    if proxy:
        scheme, colon, address = text.partition(":")
        if not colon or scheme.lower() != "smtp" or not address.strip():
            return []  # X500:, SIP:, SPO: … are not mailboxes
        text = address.strip()
    return [text]


def values(resource: dict[str, Any], paths: tuple[Path, ...]) -> list[str]:
    found: list[str] = []
    for path in paths:
        found += texts(resolve(resource, path), proxy=path == ("proxyAddresses",))
    return found


def to_user(
    resource: dict[str, Any], plan: FieldPlan, where: str, groups: frozenset[str] = frozenset()
) -> DirectoryUser | UserIssue:
    """One Graph user as a `DirectoryUser`; a `UserIssue` when its id property is empty."""

    def value(attribute: str) -> str | None:
        found = values(resource, plan.paths.get(attribute, ()))
        return found[0] if found else None

    source_id = value("source_id")
    if source_id is None:
        label = texts(resource.get("userPrincipalName")) or texts(resource.get("id")) or [where]
        return UserIssue(label[0], IssueReason.MISSING_ATTRIBUTE, "source_id (no id)")
    emails: dict[str, str] = {}  # one spelling of each address (Exchange keeps case)
    for address in values(resource, plan.paths.get("emails", ())):
        emails.setdefault(address.lower(), address)
    extra = {name: texts(resolve(resource, path)) for name, path in plan.extra.items()}
    user = user_from(
        source_id,
        resource.get(STATUS_PROPERTY) is not False,
        value,
        emails.values(),
        sorted((name, found[0]) for name, found in extra.items() if found),
        groups,
    )
    if not DATE_PROPERTIES.keys() & plan.paths.keys():
        return user
    # a DateTimeOffset (2026-04-01T00:00:00Z): its day as written is the day
    days = [(value(a) or "")[:10] or None for a in DATE_PROPERTIES]
    names = tuple(",".join(".".join(p) for p in plan.paths.get(a, ())) for a in DATE_PROPERTIES)
    dates = read_dates(days[0], days[1], (names[0], names[1]))
    if isinstance(dates, str):
        return UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE, dates)
    return replace(user, start_date=dates[0], end_date=dates[1])
