"""The one shape a directory user has once it has left its source adapter (STYLE.md 2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import field
from datetime import date
from typing import Any

from sync.model.issues import Person, person_label
from sync.model.profile import PROFILE_FIELDS
from sync.model.record import record

# Attributes every account keeps in step with the directory: every run reads them.
PROFILE_ATTRIBUTES: tuple[str, ...] = PROFILE_FIELDS
# Attributes every source maps to (SPEC §8). `source_id` and `active` are always read.
DIRECTORY_ATTRIBUTES: tuple[str, ...] = (
    "source_id",
    *PROFILE_ATTRIBUTES,
    "active",
    "updated_at",
    "google_workspace_email",
    "salesforce_account",
    "family_name_yomi",  # readings: read when a name template uses them
    "given_name_yomi",
    "user_name",
    "groups",  # read only when the tenant's scope or roles name groups
    *("start_date", "end_date"),  # the first and last day of employment, where a source has them
)
# Attributes whose value is a single string and may appear in a custom name template.
TEXT_ATTRIBUTES: tuple[str, ...] = (
    "primary_email",
    "employee_code",
    "given_name",
    "family_name",
    "display_name",
    "google_workspace_email",
    "salesforce_account",
    "family_name_yomi",
    "given_name_yomi",
    "user_name",  # a SCIM userName (SPEC §17)
)

_TEXT = frozenset(TEXT_ATTRIBUTES)  # asked per person and field by a custom name template


@record
class DirectoryUser:
    """A user as the directory holds it, already normalised to plain Python values.

    `extra` carries raw fields a tenant asked for by their system name (a lookup's
    `match_on` attribute, say), as sorted (name, value) pairs so the object stays immutable.
    """

    source_id: str
    active: bool = True
    primary_email: str | None = None
    emails: tuple[str, ...] = ()
    employee_code: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    updated_at: str | None = None
    google_workspace_email: str | None = None
    salesforce_account: str | None = None
    # the name's reading in kana (ヤマダ, タロウ) where the directory has one (SPEC §18): it only
    # feeds a custom name template (`{family_name_yomi|romaji}`), accounts do not keep it
    family_name_yomi: str | None = None
    given_name_yomi: str | None = None
    user_name: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
    # the requested groups (ReadRequest.groups) the user belongs to, nested membership included,
    # each spelt as the tenant's configuration spells it
    groups: frozenset[str] = field(default=frozenset())
    # SPEC §16: the first and the last day of employment (calendar days of the tenant's time
    # zone); before the first the account is pending, after the last it is disabled
    start_date: date | None = None
    end_date: date | None = None
    # where the directory keeps the person, as an administrator looks them up: LDAP's
    # ("dn", …) and AD's ("sAMAccountName", …); it names them in issues (SPEC §18)
    locator: Person = ()

    def person(self) -> Person:
        """The person as an administrator knows them, for an issue about them."""
        return person_label(self.display_name, self.primary_email, self.employee_code, self.locator)

    def attribute(self, name: str) -> str | None:
        """A single-valued attribute by name, or a raw extra field, or None when absent."""
        if name in _TEXT:
            value = getattr(self, name)
            return value if isinstance(value, str) else None
        for key, value in self.extra:
            if key == name:
                return value
        return None

    def all_emails(self) -> tuple[str, ...]:
        """The primary address first, then the others, without repeats."""
        seen: dict[str, None] = {}
        for address in (self.primary_email, *self.emails):
            if address:
                seen.setdefault(address, None)
        return tuple(seen)


# every single-valued attribute a source maps, the text ones and the change time
SINGLE_ATTRIBUTES: tuple[str, ...] = (*TEXT_ATTRIBUTES, "updated_at")


def user_from(
    source_id: str,
    active: bool,
    value: Callable[[str], str | None],
    emails: Iterable[str] = (),
    extra: Iterable[tuple[str, str]] = (),
    groups: Iterable[str] = (),
) -> DirectoryUser:
    """A user built from a source's own accessor of single-valued attributes."""
    singles: dict[str, Any] = {name: value(name) for name in SINGLE_ATTRIBUTES}
    return DirectoryUser(
        source_id,
        active,
        emails=tuple(emails),
        extra=tuple(extra),
        groups=frozenset(groups),
        **singles,
    )
