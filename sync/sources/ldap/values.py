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
from typing import Any

from sync.errors import UserIssue
from sync.model import DirectoryUser, IssueReason, Person
from sync.sources.ldap.dialects import Decoder, Dialect

# RFC 4517 §3.3.13 GeneralizedTime: YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|+HHMM|-HHMM)
_GENERALIZED = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$"
)
# C0 controls other than tab, newline and carriage return: a value holding them is binary data
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
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
    "family_name_yomi",
    "given_name_yomi",
)

RawAttributes = Mapping[str, Sequence[bytes]]  # keys in lower case


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One search entry as received: its DN and its attributes' raw values, in server order."""

    dn: str
    attributes: RawAttributes


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
    if len(text) == 15 and text[14] == "Z" and text[:14].isdigit():
        # OpenLDAP's and most servers' form, YYYYMMDDHHMMSSZ: read without the pattern
        try:
            return datetime(
                int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                int(text[10:12]), int(text[12:14]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError as exc:
            raise BadValue(f"{text!r} is not a generalized time: {exc}") from None
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


# AD's FILETIME: 100-nanosecond intervals since 1601-01-01 UTC; 0 and the largest 64-bit integer
# mean "never" (https://learn.microsoft.com/en-us/windows/win32/adschema/a-accountexpires)
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
FILETIME_NEVER = (0, 0x7FFFFFFFFFFFFFFF)


def from_filetime(value: int) -> datetime | None:
    """The moment a FILETIME stands for; None for "never" (or past the year 9999)."""
    if value in FILETIME_NEVER:
        return None
    if value < 0:
        raise BadValue(f"{value} is not a FILETIME (negative)")
    try:
        return FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def to_filetime(moment: datetime) -> int:
    return (moment - FILETIME_EPOCH) // timedelta(microseconds=1) * 10


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
        if _CANONICAL_UUID.fullmatch(text):
            return text  # already as str(uuid.UUID(text)) would write it
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


# (lower-case key in the raw attributes, the attribute's LDAP name, its decoder)
Place = tuple[str, str, Decoder]


class EntryReader:
    """Turns one entry's raw attributes into a `Converted`, under one dialect and mapping.

    Runs once per entry of every read (100,000 times at that size), so where each attribute is
    found and how it is decoded is worked out once, here, and plain text (nearly every value)
    takes a short path."""

    def __init__(
        self,
        dialect: Dialect,
        places: Mapping[str, tuple[str, ...]],
        attributes: frozenset[str],
        extra_fields: frozenset[str],
        now: datetime | None = None,
    ) -> None:
        self.dialect = dialect
        # the run's clock, read once: an account whose expiry time has passed is inactive
        self.now = now or datetime.now(UTC)
        self.id_places = self._places(places["source_id"])
        self.id_names = "/".join(places["source_id"])
        self.singles = [
            (a, self._places(places[a]))
            for a in SINGLE_ATTRIBUTES
            if a in attributes and places.get(a)
        ]
        self.emails = self._places(places.get("emails", ()) if "emails" in attributes else ())
        self.extras = [(f, self._places((f,))) for f in sorted(extra_fields)]
        self.changed_key = dialect.changed_attribute.lower()
        self.disabled_key = dialect.disabled.attribute.lower()
        self.expires_key = (dialect.expires_attribute or "").lower()
        self.name_place = self._places((dialect.account_name_attribute or "",))[0]

    def _places(self, names: Sequence[str]) -> tuple[Place, ...]:
        return tuple((n.lower(), n, self.dialect.decoders.get(n.lower(), "text")) for n in names)

    def convert(
        self, dn: str, raw: RawAttributes, active: bool, groups: frozenset[str] = frozenset()
    ) -> Converted:
        changed = self._changed(raw)
        try:
            source_id = _single(raw, self.id_places, "source_id")
        except BadValue as exc:
            issue = UserIssue(dn, IssueReason.MISSING_ATTRIBUTE, f"{exc} ({self._who(dn, raw)})")
            return Converted(None, issue, changed, False)
        if source_id is None:
            detail = f"source_id: {self.id_names} is missing ({self._who(dn, raw)})"
            return Converted(
                None, UserIssue(dn, IssueReason.MISSING_ATTRIBUTE, detail), changed, False
            )
        locator = self._locator(dn, raw)
        try:
            active = active and not self._disabled(raw) and not self._expired(raw)
            user = self._user(source_id, raw, active, groups, locator)
        except BadValue as exc:
            issue = UserIssue(source_id, IssueReason.MISSING_ATTRIBUTE,
                              f"{exc} ({self._who(dn, raw)})", locator)  # fmt: skip
            return Converted(None, issue, changed, True)
        return Converted(user, None, changed, True)

    def _who(self, dn: str, raw: RawAttributes) -> str:
        """The entry as an administrator finds it: its DN, and its sign-in name on AD."""
        return "; ".join(" ".join(pair) if pair[0] != "dn" else pair[1]
                         for pair in self._locator(dn, raw))  # fmt: skip

    def _locator(self, dn: str, raw: RawAttributes) -> Person:
        """("dn", DN), and on AD ("sAMAccountName", its value): what issues name (SPEC §18)."""
        key, name, _ = self.name_place
        try:
            account = text_value(raw[key][0]) if key and raw.get(key) else ""
        except BadValue:
            account = ""
        return (("dn", dn), (name, account)) if account else (("dn", dn),)

    def _user(
        self,
        source_id: str,
        raw: RawAttributes,
        active: bool,
        groups: frozenset[str],
        locator: Person,
    ) -> DirectoryUser:
        values: dict[str, Any] = {}  # single-valued attributes: str | None each
        addresses: list[str] = []  # a multi-valued mail's values, every one an address
        for attribute, where in self.singles:
            if attribute == "primary_email":
                addresses = _all_of_first(raw, where, attribute)
                values[attribute] = addresses[0] if addresses else None
            else:
                values[attribute] = _single(raw, where, attribute)
        primary = (values.get("primary_email") or "").lower()
        emails: dict[str, str] = {}
        if len(addresses) > 1:  # SPEC §13: the first is the primary, every value is in emails
            for value in addresses:
                emails.setdefault(value.lower(), value)
        for place in self.emails:
            for value in _all(raw, place, "emails"):
                key = value.lower()
                if key != primary:
                    emails.setdefault(key, value)
        extra = []
        for field, where in self.extras:
            found = _single(raw, where, field)
            if found is not None:
                extra.append((field, found))
        return DirectoryUser(
            source_id=source_id,
            active=active,
            emails=tuple(emails.values()),
            extra=tuple(extra),
            groups=groups,
            locator=locator,
            **values,
        )

    def _disabled(self, raw: RawAttributes) -> bool:
        flag = self.dialect.disabled
        values = raw.get(self.disabled_key, ())
        if flag.bit is None:
            return bool(values)
        try:
            return any(int(text_value(v)) & flag.bit for v in values)
        except ValueError as exc:
            raise BadValue(f"active: {flag.attribute} is not an integer: {exc}") from None

    def _expired(self, raw: RawAttributes) -> bool:
        if not self.expires_key:
            return False
        for value in raw.get(self.expires_key, ()):
            try:
                moment = from_filetime(int(text_value(value)))
            except ValueError as exc:
                name = self.dialect.expires_attribute
                raise BadValue(f"active: {name} is not a FILETIME integer: {exc}") from None
            if moment is not None and moment <= self.now:
                return True
        return False

    def _changed(self, raw: RawAttributes) -> datetime | None:
        stamps = []
        for value in raw.get(self.changed_key, ()):
            try:
                stamps.append(parse_generalized_time(text_value(value)))
            except BadValue:
                continue  # a change time we cannot read only makes the watermark older
        return max(stamps, default=None)


def _single(raw: RawAttributes, places: tuple[Place, ...], attribute: str) -> str | None:
    """The one value of the first of `places` the entry has; BadValue for two or more."""
    for place in places:
        found = raw.get(place[0])
        if not found:
            continue
        if len(found) == 1 and place[2] == "text":  # the common case, without a list
            value = _text_or_none(found[0], place[1], attribute)
            if value:
                return value
            continue
        values = _all(raw, place, attribute)
        if len(values) > 1:
            raise BadValue(
                f"{attribute}: {place[1]} has {len(values)} values where one is expected"
            )
        if values:
            return values[0]
    return None


def _all_of_first(raw: RawAttributes, places: tuple[Place, ...], attribute: str) -> list[str]:
    """The values, in the server's order, of the first of `places` the entry has: a person
    with two `mail` values has the first as the primary address."""
    for place in places:
        found = raw.get(place[0])
        if not found:
            continue
        if len(found) == 1 and place[2] == "text":  # the common case, as in _single
            value = _text_or_none(found[0], place[1], attribute)
            if value:
                return [value]
            continue
        values = _all(raw, place, attribute)
        if values:
            return values
    return []


def _text_or_none(raw: bytes, name: str, attribute: str) -> str | None:
    try:
        return text_value(raw) or None
    except BadValue as exc:
        raise BadValue(f"{attribute}: {name} {exc}") from None


def _all(raw: RawAttributes, place: Place, attribute: str) -> list[str]:
    key, name, decoder = place
    values = []
    for value in raw.get(key, ()):
        try:
            decoded = decode(value, decoder)
        except BadValue as exc:
            raise BadValue(f"{attribute}: {name} {exc}") from None
        if decoded:
            values.append(decoded)
    return values
