"""A per-user problem: not an exception, a line of the run's report (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass

from sync.model.enums import IssueReason

# (label, value) pairs naming a person as an administrator knows them (SPEC §18): display_name,
# email, employee_code, then where the directory keeps them (an LDAP "dn", AD's "sAMAccountName")
Person = tuple[tuple[str, str], ...]


def person_label(
    display_name: str | None,
    email: str | None,
    employee_code: str | None,
    locator: Person = (),
) -> Person:
    """The pairs for a person's known values, those missing left out."""
    known = (("display_name", display_name), ("email", email), ("employee_code", employee_code))
    return tuple((label, value) for label, value in known if value) + locator


@dataclass(frozen=True, slots=True)
class UserIssue:
    """A user that got no account (or whose account was left alone), and why. `person` names
    them beyond the source id, so an administrator can find them (SPEC §18)."""

    source_id: str
    reason: IssueReason
    detail: str = ""
    person: Person = ()

    def as_json(self) -> dict[str, object]:
        return {
            "source_id": self.source_id,
            "reason": self.reason,
            "detail": self.detail,
            "person": dict(self.person),
        }

    def person_text(self) -> str:
        """`Taro Yamada, taro@example.com, dn uid=taro,ou=people,…`: the values, labelled
        where a value alone would not say what it is."""
        return person_text(dict(self.person))


# labels shown before their value in text; the others are recognisable alone
_SPELT_OUT = ("employee_code", "dn", "sAMAccountName")


def person_text(person: dict[str, str]) -> str:
    """The text form of a `person` object, from a report's JSON as well as from an issue."""
    return ", ".join(
        f"{label} {value}" if label in _SPELT_OUT else value for label, value in person.items()
    )
