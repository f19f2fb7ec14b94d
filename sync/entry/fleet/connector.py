"""Procrastinate's PostgreSQL connector, made to say when its own queries lose the store.

Procrastinate ends its worker loop when a beat, a fetch or a periodic deferral fails, but a failed
`finish_job` (the job's own bookkeeping, after its task ran) only ends the asyncio task that ran
the job: the job then stays `doing` under a worker whose heartbeat is fine, so no stalled-job
check ever retries it (issue 23). This connector reports every query of Procrastinate's that
fails for want of the store (a dropped connection, a pool that found none in time), by the
query's name, so the worker can treat it as a lost store: docs/operations.md, "Dropped
connections".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, LiteralString, TypeVar

import procrastinate
import psycopg
from procrastinate import sql

log = logging.getLogger(__name__)
T = TypeVar("T")
NAMES = {query: name for name, query in sql.queries.items()}


class WatchedConnector(procrastinate.PsycopgConnector):
    """Calls `on_lost(query name)` (after logging it) when a query fails for want of the store;
    other errors (a queueing lock already taken, no row) pass as they are."""

    def __init__(self, on_lost: Callable[[str], None], **options: Any) -> None:
        super().__init__(**options)
        self.on_lost = on_lost

    async def execute_query_async(self, query: LiteralString, **arguments: Any) -> None:
        await self._watch(query, super().execute_query_async(query, **arguments))

    async def execute_query_one_async(
        self, query: LiteralString, **arguments: Any
    ) -> dict[str, Any]:
        row: dict[str, Any] = await self._watch(
            query, super().execute_query_one_async(query, **arguments)
        )
        return row

    async def execute_query_all_async(
        self, query: LiteralString, **arguments: Any
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._watch(
            query, super().execute_query_all_async(query, **arguments)
        )
        return rows

    async def _watch(self, query: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except procrastinate.exceptions.ConnectorException as failure:
            self._lost(query, failure)
            raise

    def _lost(self, query: str, failure: BaseException) -> None:
        cause = failure.__cause__
        if not isinstance(cause, psycopg.OperationalError):  # PoolTimeout is one too
            return
        name = NAMES.get(query, "a query")
        detail = " ".join(str(cause).split()) or type(cause).__name__
        log.error("the queue's %s failed: %s (%s)", name, detail, type(cause).__name__)
        self.on_lost(name)
