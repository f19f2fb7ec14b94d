"""A SmartHR crew (従業員) as a directory user (SPEC §16).

`source_id` = `id`, `employee_code` = `emp_code`, `primary_email` = `email`; the names are the
business names (ビジネスネーム) when set, else the legal ones, `display_name` the two with a
space; `groups` are the requested departments the crew belongs to, by name; `emp_status`
`employed` is active, `retired` inactive, `absent` (休職) per the tenant's `absent_policy`; the
start and end dates are `entered_at` and `resigned_at`. A tenant may map another attribute to a
crew field by name in `[tenants.source.attributes]`.
"""

from __future__ import annotations

from typing import Any

from sync.errors import UserIssue
from sync.model import SINGLE_ATTRIBUTES, DirectoryUser, IssueReason
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
# the readings (フリガナ), in the same order, for templates' romaji filters (SPEC §18)
READINGS: dict[str, tuple[str, str]] = {
    "family_name_yomi": ("business_last_name_yomi", "last_name_yomi"),
    "given_name_yomi": ("business_first_name_yomi", "first_name_yomi"),
}
ACTIVE_STATUS = {"employed": True, "retired": False}


class CrewMapping:
    """The tenant's mapping, worked out once: attribute -> crew field(s). Each crew is read in
    one pass over its fields (a read maps tens of thousands of them)."""

    def __init__(self, overrides: dict[str, str], absent_active: bool) -> None:
        fields = {**DEFAULT_FIELDS, **overrides}
        # each text attribute and the fields it is read from, the first that holds text winning
        self.texts: dict[str, tuple[str, ...]] = {a: (f,) for a, f in fields.items()
                                                  if a in SINGLE_ATTRIBUTES}  # fmt: skip
        for attribute, chain in (*NAMES.items(), *READINGS.items()):
            self.texts.setdefault(attribute, chain)
        self.text_chains = tuple(self.texts.items())
        self.composed_display = "display_name" not in self.texts
        self.id_field = fields["source_id"]
        self.date_fields = (fields.get("start_date") or "", fields.get("end_date") or "")
        self.absent_active = absent_active

    def to_user(
        self, crew: Any, where: str, groups: frozenset[str], extra_fields: frozenset[str]
    ) -> DirectoryUser | UserIssue:
        """The user, or the crew's issue (no id, an unreadable date or status)."""
        if not isinstance(crew, dict):
            return UserIssue(where, IssueReason.MISSING_ATTRIBUTE, "source_id (not an object)")
        values = self._texts(crew)  # the keyword arguments of DirectoryUser
        if self.composed_display:
            parts = (values["family_name"], values["given_name"])
            values["display_name"] = " ".join(p for p in parts if p) or None
        source_id = _text(crew.get(self.id_field))
        if source_id is None:
            label = values.get("employee_code") or values.get("primary_email") or where
            return UserIssue(label, IssueReason.MISSING_ATTRIBUTE, "source_id (a crew without id)")
        active = self._active(crew.get("emp_status"))
        if active is None:
            detail = f"emp_status {crew.get('emp_status')!r} is not employed, absent or retired"
            return UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE, detail + _who(values))
        start, end = self.date_fields
        dates = read_dates(_text(crew.get(start)), _text(crew.get(end)), self.date_fields)
        if isinstance(dates, str):
            return UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE, dates + _who(values))
        extra = (
            sorted((f, t) for f in extra_fields if (t := _text(crew.get(f))) is not None)
            if extra_fields
            else ()
        )
        named = frozenset(n for n in _departments(crew) if n in groups) if groups else frozenset()
        return DirectoryUser(
            source_id,
            active,
            extra=tuple(extra),
            groups=named,
            start_date=dates[0],
            end_date=dates[1],
            **values,
        )

    def _texts(self, crew: dict[str, Any]) -> dict[str, Any]:
        """Text attribute -> value, the first field of its chain that holds text winning. This
        is done inline, without a call per field: a read maps tens of thousands of crews, and
        most fields are plain strings or absent."""
        values: dict[str, Any] = {}
        get = crew.get
        for attribute, chain in self.text_chains:
            value = None
            for field in chain:
                node = get(field)
                if node is None:
                    continue
                value = (node.strip() or None) if type(node) is str else _text(node)
                if value is not None:
                    break
            values[attribute] = value
        return values

    def _active(self, status: Any) -> bool | None:
        if status is None:
            return True
        if status == "absent":
            return self.absent_active
        return ACTIVE_STATUS.get(status) if isinstance(status, str) else None


def _departments(crew: dict[str, Any]) -> list[str]:
    names = []
    for department in crew.get("departments") or ():
        if isinstance(department, dict):
            names += [n for n in (department.get("name"), department.get("full_name")) if n]
    return names


def _who(values: dict[str, Any]) -> str:
    """The person as an administrator knows them, for an issue's detail."""
    known = [v for v in (values.get("display_name"), values.get("employee_code")) if v]
    return f" ({', '.join(known)})" if known else ""


def _text(node: Any) -> str | None:
    if type(node) is str:  # nearly always: the quick way first
        return node.strip() or None
    if isinstance(node, bool) or not isinstance(node, int):
        return None
    return str(node)
