"""The account fields a sync keeps equal to the directory's, by name."""

from __future__ import annotations

import hashlib
import marshal
from typing import NamedTuple


class ProfileValues(NamedTuple):
    primary_email: str | None = None
    emails: tuple[str, ...] = ()
    employee_code: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None


PROFILE_FIELDS: tuple[str, ...] = ProfileValues._fields


class Profile:
    """A profile (ProfileValues) held as one marshalled blob rather than six objects: a first
    run keeps 100,000 of them from the read to the write (names are settled only when everyone
    has been read), and as separate strings and tuples they took about three times the memory.
    The packing is this class's own business: callers read `values()` (one unpacking, well
    under a microsecond) or a field by name."""

    __slots__ = ("_packed",)

    def __init__(
        self,
        primary_email: str | None = None,
        emails: tuple[str, ...] = (),
        employee_code: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        display_name: str | None = None,
    ) -> None:
        # marshal takes plain tuples only, not the NamedTuple
        packed = (primary_email, tuple(emails), employee_code, given_name, family_name,
                  display_name)  # fmt: skip
        self._packed = marshal.dumps(packed)

    def values(self) -> ProfileValues:
        return ProfileValues._make(marshal.loads(self._packed))

    @property
    def primary_email(self) -> str | None:
        return self.values().primary_email

    @property
    def emails(self) -> tuple[str, ...]:
        return self.values().emails

    @property
    def employee_code(self) -> str | None:
        return self.values().employee_code

    @property
    def given_name(self) -> str | None:
        return self.values().given_name

    @property
    def family_name(self) -> str | None:
        return self.values().family_name

    @property
    def display_name(self) -> str | None:
        return self.values().display_name

    def __eq__(self, other: object) -> bool:
        # not the blobs: marshal's bytes for equal values may differ (shared references)
        return isinstance(other, Profile) and self.values() == other.values()

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        return repr(self.values()).replace("ProfileValues", "Profile", 1)

    def digest(self) -> str:
        """A fingerprint stored with the account: comparing it tells whether anything changed
        without keeping every stored profile in memory."""
        return digest_of(self.values())


def digest_of(values: ProfileValues) -> str:
    """The fields joined by \\x1f (the addresses by \\x1e), a missing one as \\x00; spelt out
    rather than looped: every run digests every person."""
    primary, emails, code, given, family, display = values
    text = "\x1f".join((
        "\x00" if primary is None else primary,
        "\x1e".join(emails),
        "\x00" if code is None else code,
        "\x00" if given is None else given,
        "\x00" if family is None else family,
        "\x00" if display is None else display,
    ))  # fmt: skip
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
