"""A stored account as administration sees it (SPEC §1): never its password hash."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    tenant_id: str
    name: str
    source_id: str
    status: str
    auth_type: str
    role: str
    role_scheme: str | None
    primary_email: str | None
    emails: tuple[str, ...]
    display_name: str | None
    memo: str | None = None
    name_locked: bool = False
    role_by_hand: bool = False  # kept over the group rules until the matched group changes

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address of the account, the primary one first."""
        first = (self.primary_email,) if self.primary_email else ()
        return tuple(dict.fromkeys((*first, *self.emails)))
