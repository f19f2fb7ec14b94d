"""Composition rules: what an account name is built from (SPEC §2, §3).

A rule is parsed once from the tenant's settings and says which attributes it needs, so a source
asks its server only for those (STYLE.md 4).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sync.compose.normalize import normalize_email, normalize_text
from sync.compose.template import Missing, Template, parse_template
from sync.model import DirectoryUser, IssueReason

EMAIL_SOURCES = {
    "email": "primary_email",
    "google_workspace_email": "google_workspace_email",
    "salesforce_account": "salesforce_account",
}


@dataclass(frozen=True, slots=True)
class Composed:
    name: str


@dataclass(frozen=True, slots=True)
class NotComposed:
    reason: IssueReason  # MISSING_ATTRIBUTE or INVALID_NAME
    detail: str


@dataclass(frozen=True, slots=True)
class NameRule:
    source: str
    template: Template | None = None  # a custom rule's
    lowercase_email: bool = True
    pattern: re.Pattern[str] = re.compile(r"[A-Za-z0-9._@+\-]{1,128}")

    @classmethod
    def parse(
        cls, source: str, template: str | None, pattern: str, lowercase_email: bool = True
    ) -> NameRule:
        parsed = None
        if source == "custom":
            if not template:
                raise ValueError('a "custom" rule needs a template')
            parsed = parse_template(template)  # TemplateError (a ValueError) naming it
        return cls(source, parsed, lowercase_email, re.compile(pattern))

    @property
    def attributes(self) -> frozenset[str]:
        """Directory attributes this rule reads."""
        if self.template is not None:
            fields = self.template.attributes
            return frozenset("primary_email" if f == "email_local_part" else f for f in fields)
        if self.source == "email_local_part":
            return frozenset({"primary_email"})
        if self.source == "employee_code":
            return frozenset({"employee_code"})
        return frozenset({EMAIL_SOURCES[self.source]})

    def compose(self, user: DirectoryUser) -> Composed | NotComposed:
        raw = self._raw_name(user)
        if isinstance(raw, NotComposed):
            return raw
        return self.check(raw)

    def check(self, name: str) -> Composed | NotComposed:
        """The name if the tenant's pattern allows it; control characters never pass."""
        if not self.pattern.fullmatch(name):
            return NotComposed(
                IssueReason.INVALID_NAME, f"{name!r} is not allowed by the name pattern"
            )
        if _has_control(name):  # a tenant's wider pattern must not let these through either
            return NotComposed(IssueReason.INVALID_NAME, f"{name!r} contains a control character")
        return Composed(name)

    def _raw_name(self, user: DirectoryUser) -> str | NotComposed:
        if self.template is not None:
            return self._from_template(self.template, user)
        if self.source == "employee_code":
            return normalize_text(user.employee_code) or NotComposed(
                IssueReason.MISSING_ATTRIBUTE, "employee_code"
            )
        attribute = (
            "primary_email" if self.source == "email_local_part" else EMAIL_SOURCES[self.source]
        )
        address = normalize_email(user.attribute(attribute))
        if address is None:
            return NotComposed(IssueReason.MISSING_ATTRIBUTE, attribute)
        if self.lowercase_email:
            address = address.lower()
        if self.source != "email_local_part":
            return address
        local = local_part(address)
        return (
            local
            if local
            else NotComposed(IssueReason.INVALID_NAME, f"{address!r} has no local part")
        )

    def _from_template(self, template: Template, user: DirectoryUser) -> str | NotComposed:
        filled = template.fill(lambda field: self.template_value(user, field))
        if isinstance(filled, Missing):
            return NotComposed(IssueReason.MISSING_ATTRIBUTE, filled.detail)
        return normalize_text(filled) or NotComposed(IssueReason.INVALID_NAME, "empty name")

    def template_value(self, user: DirectoryUser, field: str) -> str | None:
        """A template field's value before its filters: normalised as every name is."""
        if field == "email_local_part":
            address = normalize_email(user.primary_email)
            return local_part(address) if address else None
        return normalize_text(user.attribute(field))


def _has_control(name: str) -> bool:
    if name.isascii():
        return not name.isprintable()
    return any(unicodedata.category(ch).startswith("C") for ch in name)


def local_part(address: str) -> str | None:
    local, at, _domain = address.rpartition("@")
    return local if at and local else None
