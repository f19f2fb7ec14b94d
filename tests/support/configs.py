"""Writing configuration files and directory CSVs for tests."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CSV_COLUMNS = (
    "source_id",
    "primary_email",
    "employee_code",
    "given_name",
    "family_name",
    "display_name",
    "active",
    "emails",
    "groups",
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def table(header: str, values: Mapping[str, Any]) -> str:
    lines = [header] + [f"{key} = {toml_value(v)}" for key, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path,
    database_url: str,
    outbox: Path,
    tenants: Iterable[Mapping[str, Any]],
    mail: Mapping[str, Any] | None = None,
) -> Path:
    """A configuration file; each tenant mapping may hold `source` and `lookups` tables."""
    parts = [
        table("[database]", {"url": database_url}),
        table("[mail]", {"delivery": "file", "outbox_dir": str(outbox), **(mail or {})}),
    ]
    for tenant in tenants:
        plain = {k: v for k, v in tenant.items() if k not in ("source", "lookups")}
        parts.append(table("[[tenants]]", plain))
        parts.append(table("[tenants.source]", tenant["source"]))
        for lookup in tenant.get("lookups", ()):
            parts.append(table("[[tenants.lookups]]", lookup))
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_users(path: Path, users: Iterable[Mapping[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        for user in users:
            writer.writerow({k: v for k, v in user.items() if k in CSV_COLUMNS})
    return path


def person(number: int, **fields: Any) -> dict[str, Any]:
    """A directory user with every attribute set; fields override."""
    base = {
        "source_id": f"u-{number:05d}",
        "primary_email": f"user{number}@example.com",
        "employee_code": f"E{number:05d}",
        "given_name": f"Given{number}",
        "family_name": f"Family{number}",
        "display_name": f"User {number}",
        "active": "true",
        "emails": "",
        "groups": "",
    }
    base.update(fields)
    return base
