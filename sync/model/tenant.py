"""A tenant as the store keeps it (SPEC §11): its settings as given, and each saved version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

FILE, STORE = "file", "store"  # where a tenant's settings come from


@dataclass(frozen=True, slots=True)
class StoredTenant:
    id: str
    origin: str
    origin_file: str | None
    enabled: bool
    version: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TenantVersion:
    tenant_id: str
    version: int
    settings: dict[str, Any]
    changed: list[str]
    author: str
    origin: str
    saved_at: datetime
