"""Field paths into a Directory API user resource, the `fields` selector, and the mapping.

A tenant names a Google field by a path: `primaryEmail`, `name.givenName`, `orgUnitPath`,
`customSchemas.Employment.code`, or `externalIds[organization]` (the first list item of that
`type`; `externalIds[custom:Staff No]` matches a `custom` item by its `customType`). The same
paths serve `[tenants.source.attributes]` and a lookup's extra fields. User resource:
https://developers.google.com/workspace/admin/directory/reference/rest/v1/users
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason, user_from
from sync.sources.base import ReadRequest

# Directory attribute -> Google field path. `active` is not a path: a user is inactive when
# `suspended` or `archived` (an archived user keeps a licence but cannot sign in).
DEFAULT_FIELDS: dict[str, str] = {
    "source_id": "id",
    "primary_email": "primaryEmail",
    "emails": "emails",
    "employee_code": "externalIds[organization]",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "name.fullName",
    "google_workspace_email": "primaryEmail",
}
STATUS_FIELDS = ("suspended", "archived")
# Google addresses are case-insensitive and Google stores them lower-case; an address that
# comes back with capitals (seen from old migrations) is lower-cased so names and lookups match.
EMAIL_ATTRIBUTES = frozenset({"primary_email", "emails", "google_workspace_email"})
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\[\]]+)\])?")

Tree = dict[str, "Tree | None"]  # a `fields` selector: None selects the whole value


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    item_type: str | None = None  # pick the first list item of this type


def parse_path(path: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    position = 0
    while True:
        match = _STEP.match(path, position)
        if match:
            steps.append(Step(match[1], match[2]))
            position = match.end()
            if position == len(path):
                return tuple(steps)
        if not match or path[position] != ".":
            where = f"unexpected {path[position]!r} at position {position}" if path else "empty"
            raise ValueError(
                f"{path!r} is not a Google field path ({where}); write for example "
                "'name.givenName', 'orgUnitPath' or 'externalIds[organization]'"
            )
        position += 1


def check_field_path(path: str, where: str) -> None:
    """For the configuration's validator: ValueError naming the key."""
    try:
        parse_path(path)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """Which fields a read needs, built once per read from the request and the tenant's map."""

    paths: dict[str, tuple[Step, ...]]
    extra: dict[str, tuple[Step, ...]]

    def selector(self) -> str:
        """The `fields` parameter: only what the plan reads, plus the paging token.
        https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial"""
        return f"nextPageToken,users({self.user_fields()})"

    def user_fields(self) -> str:
        """The fields of one user the plan reads (users.get's `fields`; each user of a list)."""
        tree: Tree = {name: None for name in STATUS_FIELDS}
        for steps in (*self.paths.values(), *self.extra.values()):
            _add(tree, steps)
        return _render(tree)

    def projection(self) -> dict[str, str]:
        """`customSchemas` are returned only with projection custom (named schemas) or full."""
        schemas = {
            steps[1].key
            for steps in (*self.paths.values(), *self.extra.values())
            if steps[0].key == "customSchemas"
        }
        whole = any(
            len(steps) == 1 and steps[0].key == "customSchemas"
            for steps in (*self.paths.values(), *self.extra.values())
        )
        if whole:
            return {"projection": "full"}
        if schemas:
            return {"projection": "custom", "customFieldMask": ",".join(sorted(schemas))}
        return {}


def plan_fields(request: ReadRequest, overrides: dict[str, str]) -> FieldPlan:
    """ValueError for an extra field that is not a path, or a required attribute that no
    Google field holds (`salesforce_account`, say, unless the tenant maps one)."""
    mapping = {**DEFAULT_FIELDS, **overrides}
    unmapped = sorted(request.required - set(mapping) - {"active"})
    if unmapped:
        raise ValueError(
            f"Google Workspace has no default field for {', '.join(unmapped)}; map one in "
            "[tenants.source.attributes] (e.g. a custom schema field 'customSchemas.HR.code')"
        )
    wanted = ({"source_id"} | request.attributes) & set(mapping)
    paths = {attribute: parse_path(mapping[attribute]) for attribute in sorted(wanted)}
    extra = {name: parse_path(name) for name in sorted(request.extra_fields)}
    return FieldPlan(paths, extra)


def _add(tree: Tree, steps: tuple[Step, ...]) -> None:
    node = tree
    for position, step in enumerate(steps):
        last = position == len(steps) - 1 or step.item_type is not None
        if last:  # a typed list is asked for whole: the pick is made here, not by Google
            node[step.key] = None
            return
        child = node.get(step.key, {})
        if child is None:
            return  # already asked for whole
        node[step.key] = child
        node = child


def _render(tree: Tree) -> str:
    return ",".join(
        key if sub is None else f"{key}({_render(sub)})" for key, sub in sorted(tree.items())
    )


def resolve(resource: Any, steps: tuple[Step, ...]) -> Any:
    node = resource
    for step in steps:
        node = node.get(step.key) if isinstance(node, dict) else None
        if step.item_type is not None:
            node = _typed_item(node, step.item_type)
    return node


def _typed_item(items: Any, item_type: str) -> Any:
    if not isinstance(items, list):
        return None
    kind, _, label = item_type.partition(":")
    for item in items:
        if not isinstance(item, dict) or item.get("type") != kind:
            continue
        if not label or item.get("customType") == label:
            return item
    return None


def texts(node: Any) -> list[str]:
    """Every non-empty text in a value: a string, a number, a list item's `value`/`address`."""
    if isinstance(node, list):
        return [text for item in node for text in texts(item)]
    if isinstance(node, dict):
        node = node.get("value", node.get("address"))
    if isinstance(node, str | bool | int | float):
        text = str(node).strip()
        return [text] if text else []
    return []


def to_user(
    resource: dict[str, Any], plan: FieldPlan, where: str, groups: frozenset[str] = frozenset()
) -> DirectoryUser | UserIssue:
    """One user resource as a `DirectoryUser`; a `UserIssue` when it has no id."""

    def value(attribute: str) -> str | None:
        steps = plan.paths.get(attribute)
        found = texts(resolve(resource, steps)) if steps else []
        if not found:
            return None
        return found[0].lower() if attribute in EMAIL_ATTRIBUTES else found[0]

    source_id = value("source_id")
    if source_id is None:
        label = texts(resource.get("primaryEmail"))
        return UserIssue(
            label[0] if label else where, IssueReason.MISSING_ATTRIBUTE, "source_id (no id)"
        )
    emails_steps = plan.paths.get("emails")
    emails = texts(resolve(resource, emails_steps)) if emails_steps else []
    extra = {name: texts(resolve(resource, steps)) for name, steps in plan.extra.items()}
    active = not any(resource.get(name) is True for name in STATUS_FIELDS)
    return user_from(
        source_id,
        active,
        value,
        dict.fromkeys(address.lower() for address in emails),
        sorted((name, found[0]) for name, found in extra.items() if found),
        groups,
    )
