"""Helpers shared by the Salesforce tests: certificate and key paths, the test directory, and a
function that drains one read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.salesforce import SalesforceSource
from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator, make_user

EPOCH = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class JwtKeys:
    private_key_file: Path
    private_pem: bytes
    public_pem: bytes


def seven_users() -> list[dict[str, Any]]:
    """Seven standard users a day apart, one inactive, one without email, plus a non-standard one
    the default `where` leaves out."""
    users = [make_user(n, EPOCH + dt.timedelta(days=n)) for n in range(1, 8)]
    users[2]["IsActive"] = False
    users[4]["Email"] = None
    users.append(make_user(99, EPOCH, UserType="CsnOnly", Username="chatter@acme.example.sfdc"))
    return users


def read_all(
    settings: SalesforceSourceSettings, request: ReadRequest
) -> tuple[list[Page], ReadResult]:
    """Every page of one read and how it ended (raises what the read raises)."""
    pages: list[Page] = []
    result: ReadResult | None = None
    for item in drain(SalesforceSource(settings).read(request)):
        if isinstance(item, Page):
            pages.append(item)
        else:
            result = item
    assert result is not None
    return pages, result


def salesforce_keys(emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys) -> dict[str, object]:
    """The `[tenants.source]` keys of a tenant on the emulator, with a short retry bound."""
    return {
        "kind": "salesforce",
        "login_url": emulator.url,
        "consumer_key": emulator.consumer_key,
        "private_key_file": str(jwt_keys.private_key_file),
        "username": emulator.username,
        "ca_file": str(tls.ca_file),
        "retry_max_seconds": 1.5,
        "timeout_seconds": 5,
    }
