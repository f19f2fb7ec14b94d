"""The tenant's SCIM directory as the run hands it to the `scim` source (SPEC §17): read from the
store here, so the source never opens the store itself (ARCHITECTURE.md: sources never touch
it)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine

from sync.model.pushed import PushedUser
from sync.store import scim


class StoredPushes:
    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self.engine, self.tenant_id = engine, tenant_id

    def group_names(self) -> set[str]:
        with self.engine.connect() as conn:
            return scim.group_names(conn, self.tenant_id)

    def memberships(self) -> dict[str, set[str]]:
        with self.engine.connect() as conn:
            return scim.memberships(conn, self.tenant_id)

    def users(self) -> Iterator[PushedUser]:
        with self.engine.connect() as conn:
            yield from scim.pushed_users(conn, self.tenant_id)
