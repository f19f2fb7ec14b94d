"""Changes in words an administrator reads (SPEC §10): each change field by field, as a dry run
lists it and a change set holds it. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.model import Action, Change, ProfileValues
from sync.model.changeset import HeldChange
from sync.planning.guards import GuardKind, cleared_fields


def change_fields(change: Change, before: ProfileValues | None) -> dict[str, list[Any]]:
    """{field: [before, after]} of everything this change sets."""
    fields: dict[str, list[Any]] = {}
    if Action.CREATE in change.actions:
        fields["name"] = [None, change.name]
    if Action.RENAME in change.actions:
        fields["name"] = [change.old_name, change.name]
    if Action.UPDATE in change.actions and change.profile is not None:
        old, new = before or ProfileValues(), change.profile.values()
        for field in ProfileValues._fields:
            if getattr(old, field) != getattr(new, field):
                fields[field] = [_plain(getattr(old, field)), _plain(getattr(new, field))]
    address = change.profile.primary_email if change.profile is not None else None
    if Action.CREATE in change.actions and address:
        fields["primary_email"] = [None, address]
    if change.actions & {Action.DISABLE, Action.ENABLE} or change.status is not None:
        was, now = change.status_change()
        fields["status"] = [was or None, now]
    for field, moved in change.date_fields().items():
        fields[field] = list(moved)
    return fields


def plan_line(change: Change, before: ProfileValues | None) -> dict[str, Any]:
    """One change of a dry run's `plan`."""
    data: dict[str, Any] = {
        "source_id": change.source_id,
        "actions": sorted(change.actions),
        "name": change.name,
        "fields": change_fields(change, before),
    }
    if change.old_name:
        data["old_name"] = change.old_name
    if change.why:
        data["why"] = change.why
    if change.invite:
        data["invite"] = True
    return data


def held_change(kind: GuardKind, change: Change, before: Mapping[int, ProfileValues]) -> HeldChange:
    """What a change set shows of one held change: only the part of that kind."""
    stored = before.get(change.account_id) if change.account_id is not None else None
    if kind is GuardKind.DISABLE:
        status = list(change.status_change())
        return HeldChange(change.name, change.source_id, "disable", {"status": status})
    if kind is GuardKind.RENAME:
        assert change.old_name is not None
        name = {"name": [change.old_name, change.name]}
        return HeldChange(change.old_name, change.source_id, "rename", name)
    assert stored is not None
    cleared = {f: [getattr(stored, f), None] for f in cleared_fields(change, stored)}
    return HeldChange(change.old_name or change.name, change.source_id, "clear", cleared)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
