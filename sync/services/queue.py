"""What the fleet's queue says about itself (SPEC §11), for the entry points that ask it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from sync.store import queue_stats


def fleet_serves(engine: Engine, stalled_after: timedelta) -> bool:
    """A fleet serves this store: PostgreSQL with the queue's tables and a live worker."""
    with engine.connect() as conn:
        return (
            queue_stats.has_queue(conn) and queue_stats.queue_stats(conn, stalled_after).workers > 0
        )
