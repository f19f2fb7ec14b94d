"""What identity providers pushed over SCIM (SPEC §17), as the `scim` source reads it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class PushedUser:
    """A pushed user: deleted users are inactive, never gone."""

    id: str
    active: bool
    resource: dict[str, Any]
    updated_at: datetime


class PushedDirectory(Protocol):
    """The tenant's SCIM directory, handed to the `scim` source by the run (the source itself
    never opens the store)."""

    def group_names(self) -> set[str]: ...

    def memberships(self) -> dict[str, set[str]]:
        """user id -> the displayNames of the groups the user is a member of."""
        ...

    def users(self) -> Iterator[PushedUser]: ...
