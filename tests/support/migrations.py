"""Moving a test store to one migration, up or down, as `db upgrade` would (Alembic)."""

from __future__ import annotations

from alembic import command

from sync.store.engine import _alembic_config, make_engine


def migrate(url: str, revision: str, down: bool = False) -> None:
    engine = make_engine(url)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()
