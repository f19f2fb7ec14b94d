"""Raw LDAP values (bytes) to plain Python values, and one entry to one `DirectoryUser`.

Values are decoded here from the bytes on the wire, not by ldap3's schema-driven formatters, so
binary data and bytes that are not UTF-8 are seen and reported per user instead of leaking
through as `bytes` or failing the read.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.errors import UserIssue
from sync.model import DirectoryUser
from sync.sources.ldap.dialects import Decoder, Dialect

# RFC 4517 §3.3.13 GeneralizedTime: YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|+HHMM|-HHMM)
_GENERALIZED = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$"
)
# C0 controls other than tab, newline and carriage return: a value holding them is binary data
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SINGLE_ATTRIBUTES = (
    "primary_email",
    "employee_code",
    "given_name",
    "family_name",
    "display_name",
    "updated_at",
    "google_workspace_email",
    "salesforce_account",
)

RawAttributes = Mapping[str, Sequence[bytes]]  # keys in lower case


class BadValue(ValueError):
    """A value that cannot be read as its attribute's kind; the message says why."""


@dataclass(frozen=True, slots=True)
class Converted:
    """One entry's outcome: a user, or an issue; plus its change time for the watermark."""

    user: DirectoryUser | None
    issue: UserIssue | None
    changed: datetime | None
    id_known: bool


def parse_generalized_time(text: str) -> datetime:
    match = _GENERALIZED.match(text.strip())
    if not match:
        raise BadValue(f"{text!r} is not a generalized time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0)
        )
    except ValueError as exc:
        raise BadValue(f"{text!r} is not a generalized time: {exc}") from None
    if fraction:
        moment += timedelta(seconds=float(f"0.{fraction}"))
    offset = timedelta()
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))
    return (moment - offset).replace(tzinfo=UTC)


def text_value(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadValue(
            f"holds bytes that are not UTF-8 text ({len(raw)} bytes, bad byte at {exc.start})"
        ) from None
    if _CONTROL.search(text):
        raise BadValue(f"holds binary data ({len(raw)} bytes), not text")
    return text.strip()


def decode(raw: bytes, decoder: Decoder) -> str | None:
    """The value as text; None for a value that does not count (a non-SMTP proxy address)."""
    if decoder == "guid":
        # AD's objectGUID: 16 bytes, the first three fields little-endian (MS-DTYP §2.3.4)
        if len(raw) != 16:
            raise BadValue(f"is {len(raw)} bytes where a GUID has 16")
        return str(uuid.UUID(bytes_le=raw))
    text = text_value(raw)
    if decoder == "uuid":
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise BadValue(f"{text!r} is not a UUID") from None
    if decoder == "time":
        return parse_generalized_time(text).isoformat()
    if decoder == "smtp_proxy":
        # "SMTP:" marks the primary address, "smtp:" the others; X500:, SIP: ... are not mail
        prefix, _, address = text.partition(":")
        return (address.strip() or None) if prefix.lower() == "smtp" else None
    return text or None


class EntryReader:
    """Turns one entry's raw attributes into a `Converted`, under one dialect and mapping."""

    def __init__(
        self,
        dialect: Dialect,
        places: Mapping[str, tuple[str, ...]],
        attributes: frozenset[str],
        extra_fields: frozenset[str],
    ) -> None:
        self.dialect = dialect
        self.places = places
        self.singles = [a for a in SINGLE_ATTRIBUTES if a in attributes and places.get(a)]
        self.emails = places.get("emails", ()) if "emails" in attributes else ()
        self.extra_fields = sorted(extra_fields)

    def decoder(self, ldap_attribute: str) -> Decoder:
        return self.dialect.decoders.get(ldap_attribute.lower(), "text")

    def convert(self, dn: str, raw: RawAttributes, active: bool) -> Converted:
        changed = self._changed(raw)
        try:
            source_id = self._single(raw, self.places["source_id"], "source_id")
        except BadValue as exc:
            return Converted(None, UserIssue(dn, "missing_attribute", str(exc)), changed, False)
        if source_id is None:
            id_names = "/".join(self.places["source_id"])
            detail = f"source_id: {id_names} is missing at {dn}"
            return Converted(None, UserIssue(dn, "missing_attribute", detail), changed, False)
        try:
            user = self._user(source_id, raw, active and not self._disabled(raw))
        except BadValue as exc:
            issue = UserIssue(source_id, "missing_attribute", f"{exc} (at {dn})")
            return Converted(None, issue, changed, True)
        return Converted(user, None, changed, True)

    def _user(self, source_id: str, raw: RawAttributes, active: bool) -> DirectoryUser:
        values = {a: self._single(raw, self.places[a], a) for a in self.singles}
        primary = values.get("primary_email")
        emails: dict[str, str] = {}
        for name in self.emails:
            for value in self._all(raw, name, "emails"):
                if value.lower() != (primary or "").lower():
                    emails.setdefault(value.lower(), value)
        extra = []
        for field in self.extra_fields:
            found = self._single(raw, (field,), field)
            if found is not None:
                extra.append((field, found))
        return DirectoryUser(
            source_id=source_id,
            active=active,
            emails=tuple(emails.values()),
            extra=tuple(extra),
            **values,
        )

    def _single(self, raw: RawAttributes, names: tuple[str, ...], attribute: str) -> str | None:
        """The one value of the first of `names` the entry has; BadValue for two or more."""
        for name in names:
            values = self._all(raw, name, attribute)
            if len(values) > 1:
                raise BadValue(
                    f"{attribute}: {name} has {len(values)} values where one is expected"
                )
            if values:
                return values[0]
        return None

    def _all(self, raw: RawAttributes, name: str, attribute: str) -> list[str]:
        decoder = self.decoder(name)
        values = []
        for value in raw.get(name.lower(), ()):
            try:
                decoded = decode(value, decoder)
            except BadValue as exc:
                raise BadValue(f"{attribute}: {name} {exc}") from None
            if decoded:
                values.append(decoded)
        return values

    def _disabled(self, raw: RawAttributes) -> bool:
        flag = self.dialect.disabled
        values = raw.get(flag.attribute.lower(), ())
        if flag.bit is None:
            return bool(values)
        try:
            return any(int(text_value(v)) & flag.bit for v in values)
        except ValueError as exc:
            raise BadValue(f"active: {flag.attribute} is not an integer: {exc}") from None

    def _changed(self, raw: RawAttributes) -> datetime | None:
        stamps = []
        for value in raw.get(self.dialect.changed_attribute.lower(), ()):
            try:
                stamps.append(parse_generalized_time(text_value(value)))
            except BadValue:
                continue  # a change time we cannot read only makes the watermark older
        return max(stamps, default=None)
