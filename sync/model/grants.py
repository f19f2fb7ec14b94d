"""An account's administrator privilege as group rules give it (SPEC §13): the role, its
permission scheme, and the group whose rule matched."""

from __future__ import annotations

from dataclasses import dataclass

from sync.model.enums import Role


@dataclass(frozen=True, slots=True)
class Grant:
    """A privilege, and the group whose rule gave it (None: no rule matched)."""

    role: str
    scheme: str | None
    group: str | None

    def key(self, by_hand: bool) -> str:
        """The grant as one string (what a stored account's state keeps: one object, shared
        by every account that holds no privilege)."""
        if self == NO_GRANT and not by_hand:
            return NO_GRANT_KEY
        return "\x1f".join((self.role, self.scheme or "", self.group or "", "1" if by_hand else ""))

    @staticmethod
    def of_key(key: str) -> tuple[Grant, bool]:
        role, scheme, group, hand = key.split("\x1f")
        return Grant(role, scheme or None, group or None), hand == "1"


NO_GRANT = Grant(Role.NONE.value, None, None)
NO_GRANT_KEY = "none\x1f\x1f\x1f"


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A privilege the group rules change: from what (and whether set by hand) to what."""

    before: Grant
    by_hand: bool
    after: Grant

    def fields(self) -> dict[str, tuple[object, object]]:
        """For the audit: what changed, and that a privilege set by hand was replaced."""
        before, after = self.before, self.after
        pairs = (
            ("role", before.role, after.role),
            ("role_scheme", before.scheme, after.scheme),
            ("role_group", before.group, after.group),
        )
        said: dict[str, tuple[object, object]] = {k: (o, n) for k, o, n in pairs if o != n}
        if self.by_hand:
            said["role_by_hand"] = (True, False)
        return said
