"""A SmartHR crew (従業員) as a directory user (SPEC §16).

`source_id` = `id`, `employee_code` = `emp_code`, `primary_email` = `email`; the names are the
business names (ビジネスネーム) when set, else the legal ones, `display_name` the two with a
space; `groups` are the requested departments the crew belongs to, by name; `emp_status`
`employed` is active, `retired` inactive, `absent` (休職) per the tenant's `absent_policy`; the
start and end dates are `entered_at` and `resigned_at`. A tenant may map another attribute to a
crew field by name in `[tenants.source.attributes]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason, user_from
from sync.sources.base import read_dates

DEFAULT_FIELDS: dict[str, str] = {
    "source_id": "id",
    "employee_code": "emp_code",
    "primary_email": "email",
    "start_date": "entered_at",
    "end_date": "resigned_at",
    "updated_at": "updated_at",
}
# each name: the business name's field first, then the legal name's
NAMES: dict[str, tuple[str, str]] = {
    "family_name": ("business_last_name", "last_name"),
    "given_name": ("business_first_name", "first_name"),
}
# the readings (フリガナ), in the same order; DirectoryUser's reading fields come with the
# readings work (SPEC §18) and take these values
READINGS: dict[str, tuple[str, str]] = {
    "family_name_yomi": ("business_last_name_yomi", "last_name_yomi"),
    "given_name_yomi": ("business_first_name_yomi", "first_name_yomi"),
}
ACTIVE_STATUS = {"employed": True, "retired": False}


class CrewMapping:
    """The tenant's mapping, worked out once: attribute -> crew field."""

    def __init__(self, overrides: dict[str, str], absent_active: bool) -> None:
        self.fields = {**DEFAULT_FIELDS, **overrides}
        self.names = {a: (overrides[a],) if a in overrides else f for a, f in NAMES.items()}
        self.absent_active = absent_active

    def to_user(
        self, crew: Any, where: str, groups: frozenset[str], extra_fields: frozenset[str]
    ) -> DirectoryUser | UserIssue:
        """The user, or the crew's issue (no id, an unreadable date or status)."""
        if not isinstance(crew, dict):
            return UserIssue(where, IssueReason.MISSING_ATTRIBUTE, "source_id (not an object)")
        value = self._reader(crew)
        source_id = value("source_id")
        if source_id is None:
            label = value("employee_code") or value("primary_email") or where
            return UserIssue(label, IssueReason.MISSING_ATTRIBUTE, "source_id (a crew without id)")
        who = _who(value)
        active = self._active(crew.get("emp_status"))
        if active is None:
            detail = f"emp_status {crew.get('emp_status')!r} is not employed, absent or retired"
            return UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE, f"{detail}{who}")
        dates = self._dates(crew, source_id, who)
        if isinstance(dates, UserIssue):
            return dates
        user = user_from(
            source_id,
            active,
            value,
            (),
            sorted((f, t) for f in extra_fields if (t := _text(crew.get(f))) is not None),
            (name for name in _departments(crew) if name in groups),
        )
        start, end = dates
        if start is None and end is None:
            return user
        return replace(user, start_date=start, end_date=end)

    def _reader(self, crew: dict[str, Any]) -> Callable[[str], str | None]:
        def value(attribute: str) -> str | None:
            if attribute == "display_name" and "display_name" not in self.fields:
                parts = (value("family_name"), value("given_name"))
                return " ".join(p for p in parts if p) or None
            if attribute in self.names and attribute not in DEFAULT_FIELDS:
                return first_text(crew, self.names[attribute])
            field = self.fields.get(attribute)
            return _text(crew.get(field)) if field else None

        return value

    def _active(self, status: Any) -> bool | None:
        if status is None:
            return True
        if status == "absent":
            return self.absent_active
        return ACTIVE_STATUS.get(status) if isinstance(status, str) else None

    def _dates(
        self, crew: dict[str, Any], source_id: str, who: str
    ) -> tuple[date | None, date | None] | UserIssue:
        start, end = (self.fields.get(a) or "" for a in ("start_date", "end_date"))
        found = read_dates(_text(crew.get(start)), _text(crew.get(end)), (start, end))
        if isinstance(found, str):
            return UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE, f"{found}{who}")
        return found


def first_text(crew: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """The first of these fields that holds text (a business name before the legal one)."""
    for field in fields:
        text = _text(crew.get(field))
        if text is not None:
            return text
    return None


def readings(crew: dict[str, Any]) -> dict[str, str | None]:
    """The crew's name readings, business names' first (SPEC §16)."""
    return {attribute: first_text(crew, fields) for attribute, fields in READINGS.items()}


def _departments(crew: dict[str, Any]) -> list[str]:
    names = []
    for department in crew.get("departments") or ():
        if isinstance(department, dict):
            names += [n for n in (department.get("name"), department.get("full_name")) if n]
    return names


def _who(value: Callable[[str], str | None]) -> str:
    """The person as an administrator knows them, for an issue's detail."""
    known = [v for v in (value("display_name"), value("employee_code")) if v]
    return f" ({', '.join(known)})" if known else ""


def _text(node: Any) -> str | None:
    if isinstance(node, bool) or node is None:
        return None
    text = str(node).strip() if isinstance(node, str | int) else ""
    return text or None
