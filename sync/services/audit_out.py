"""`audit export` and the console's download (SPEC §19): a tenant's events, oldest first, as
JSON lines or CSV, streamed row by row (100,000 events never sit in memory)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine

from sync.errors import UsageError
from sync.store.audit_feed import export_events

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
COLUMNS = ("id", "at", "tenant", "actor", "action", "account", "fields")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def parse_instant(value: str, option: str) -> datetime:
    """An ISO 8601 date or date-time (`2026-04-01`, `2026-04-01T09:00:00+09:00`); without an
    offset it is UTC. UsageError naming the option and the value otherwise."""
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"{option}: {value!r} is not an ISO 8601 date or time like 2026-04-01 or "
            "2026-04-01T09:00:00+09:00"
        ) from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def export_lines(
    engine: Engine,
    tenant_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    fmt: ExportFormat = "jsonl",
) -> Iterator[str]:
    """The events with `since <= at < until`, one line each (a header first for CSV); `fields`
    is {name: [before, after]}, as a JSON string in CSV. A bad window raises here, before the
    store is read; the lines are read as they are taken."""
    if since is not None and until is not None and until <= since:
        raise UsageError(f"--until ({until.isoformat()}) must be later than --since")
    return _lines(export_events(engine, tenant_id, since, until), fmt)


def _lines(events: Iterator[dict[str, object]], fmt: ExportFormat) -> Iterator[str]:
    if fmt == "jsonl":
        for event in events:
            yield json.dumps(event, ensure_ascii=False) + "\n"
        return
    yield _csv_line(COLUMNS)
    for event in events:
        fields = json.dumps(event["fields"], ensure_ascii=False)
        yield _csv_line([*(str(event[c]) for c in COLUMNS[:-1]), fields])


def _csv_line(values: object) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)  # type: ignore[arg-type]
    return buffer.getvalue()
