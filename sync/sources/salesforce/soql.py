"""The SOQL query on `User` and the conversion of its records into DirectoryUsers.

Field names come from our defaults, the tenant's `attributes` table and a lookup's extra fields;
each is checked against SALESFORCE_FIELD before it reaches the query, so none can inject SOQL. The
tenant's `where` is an administrator's SOQL condition and is sent as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.errors import StopRun, UserIssue
from sync.model import DirectoryUser, IssueReason, user_from
from sync.sources.base import ReadRequest
from sync.sources.settings import SALESFORCE_FIELD, SalesforceSourceSettings

# Directory attribute -> `User` field (https://developer.salesforce.com/docs/atlas.en-us.
# object_reference.meta/object_reference/sforce_api_objects_user.htm). `User` has one address.
DEFAULT_FIELDS: dict[str, str] = {
    "source_id": "Id",
    "active": "IsActive",
    "updated_at": "SystemModstamp",
    "salesforce_account": "Username",
    "primary_email": "Email",
    "emails": "Email",
    "employee_code": "EmployeeNumber",
    "given_name": "FirstName",
    "family_name": "LastName",
    "display_name": "Name",
}
# Read whatever the request says: the id, the flag, the delta clock and the Username (every user
# carries its salesforce_account, so a lookup can always name accounts by it).
ALWAYS = ("source_id", "active", "updated_at", "salesforce_account")
# A record saved in a transaction that commits after our query can carry a SystemModstamp a
# little older than the newest one we saw; re-reading this much keeps a delta from missing it.
DELTA_OVERLAP = timedelta(minutes=5)
# a record Id: 15 case-sensitive or 18 case-insensitive letters and digits
RECORD_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")


@dataclass(frozen=True, slots=True)
class UserQuery:
    """What to ask for and how to read the answer."""

    fields: dict[str, str]  # directory attribute -> Salesforce field
    extra_fields: tuple[str, ...]
    # read besides: the record's Id, which group membership names, when groups are asked for
    key_fields: tuple[str, ...] = ()

    @classmethod
    def for_request(cls, settings: SalesforceSourceSettings, request: ReadRequest) -> UserQuery:
        mapping = {**DEFAULT_FIELDS, **settings.attributes}
        unheld = sorted(request.required - mapping.keys())
        if unheld:
            # e.g. google_workspace_email: say so once rather than report every user
            raise StopRun(
                f"Salesforce `User` has no default field for {unheld}; map one in the "
                "source's attributes table or use a lookup"
            )
        wanted = set(ALWAYS) | set(request.attributes)
        fields = {a: mapping[a] for a in sorted(wanted) if a in mapping}
        bad = sorted(f for f in request.extra_fields if not SALESFORCE_FIELD.fullmatch(f))
        if bad:
            raise StopRun(f"Salesforce: {bad} are not Salesforce field names (lookup_field?)")
        return cls(fields, tuple(sorted(request.extra_fields)), ("Id",) if request.groups else ())

    @property
    def stamp_field(self) -> str:
        return self.fields["updated_at"]

    def one_id(self, only: str | None) -> str | None:
        """The record Id `only` names when it can be read alone (`AND Id = '…'`): a 15- or
        18-character Id where the source id is the record's `Id`; else None (the whole read)."""
        if only is None or self.fields["source_id"].lower() != "id":
            return None
        return only if RECORD_ID.fullmatch(only) else None

    def soql(self, where: str, since: datetime | None, only: str | None = None) -> str:
        # Field names are case-insensitive in SOQL: ask for each once.
        selected: dict[str, str] = {}
        for name in (*self.fields.values(), *self.extra_fields, *self.key_fields):
            selected.setdefault(name.lower(), name)
        conditions = [f"({where})"] if where.strip() else []
        if since is not None:
            conditions.append(f"{self.stamp_field} >= {soql_datetime(since - DELTA_OVERLAP)}")
        if only is not None:  # one_id's: letters and digits only, nothing to escape
            conditions.append(f"Id = '{only}'")
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        columns = ", ".join(sorted(selected.values(), key=str.lower))
        return f"SELECT {columns} FROM User{clause} ORDER BY Id"

    def to_user(
        self, record: dict[str, Any], groups: frozenset[str] = frozenset()
    ) -> DirectoryUser | UserIssue:
        # The JSON uses each field's canonical case, whatever case the query used.
        values = {k.lower(): v for k, v in record.items() if k != "attributes"}

        def text(attribute: str) -> str | None:
            field = self.fields.get(attribute)
            value = values.get(field.lower()) if field else None
            return _text(value)

        source_id = text("source_id")
        if not source_id:
            return UserIssue(
                "(unknown)",
                IssueReason.MISSING_ATTRIBUTE,
                f"source_id ({self.fields['source_id']})",
            )
        active = _flag(values.get(self.fields["active"].lower()))
        if active is None:
            return UserIssue(
                source_id,
                IssueReason.MISSING_ATTRIBUTE,
                f"active ({self.fields['active']} is not a boolean)",
            )
        extra = tuple(
            (name, value)
            for name in self.extra_fields
            if (value := _text(values.get(name.lower()))) is not None
        )
        emails = (e.strip() for e in (text("emails") or "").split(";") if e.strip())
        return user_from(source_id, active, text, emails, extra, groups)


def parse_stamp(value: str | None) -> datetime | None:
    """Salesforce's `2024-05-01T10:00:00.000+0000` (or any ISO form) as an aware datetime."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (unquoted, UTC, whole seconds): `2024-05-01T10:00:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None
