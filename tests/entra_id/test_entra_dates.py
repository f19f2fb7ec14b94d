"""Entra ID's employeeHireDate and employeeLeaveDateTime as a person's dates (SPEC §16), read
when the tenant maps them (the leave date needs User-LifeCycleInfo.Read.All)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sync.errors import SourceUnavailable
from sync.sources import open_source
from sync.sources.settings import EntraIdSourceSettings
from tests.entra_id.conftest import entra_keys
from tests.entra_id.emulator import EntraEmulator, make_user
from tests.support.reading import collect, request

DATES = {"start_date": "employeeHireDate", "end_date": "employeeLeaveDateTime"}


def read(emulator: EntraEmulator) -> tuple[dict[Any, Any], list[str]]:
    settings = EntraIdSourceSettings.model_validate(entra_keys(emulator, attributes=DATES))
    found = collect(open_source(settings).read(request("primary_email", "employee_code")))
    dates = {u.employee_code: (u.start_date, u.end_date) for u in found.users}
    return dates, [i.detail for i in found.issues]


def test_hire_and_leave_dates_are_read_by_their_day(emulator: EntraEmulator) -> None:
    emulator.permissions.add("User-LifeCycleInfo.Read.All")
    emulator.users = [
        make_user(1, employeeHireDate="2026-04-01T00:00:00Z"),
        make_user(2, employeeLeaveDateTime="2026-03-31T00:00:00Z"),
        make_user(3, employeeHireDate="yesterday"),
    ]
    dates, issues = read(emulator)
    assert dates == {"E0001": (date(2026, 4, 1), None), "E0002": (None, date(2026, 3, 31))}
    assert issues == ["employeeHireDate: 'yesterday' is not a date (YYYY-MM-DD)"]
    assert "employeeHireDate" in emulator.requests[-1][2]["$select"][0]


def test_without_the_lifecycle_permission_the_leave_date_is_refused(
    emulator: EntraEmulator,
) -> None:
    with pytest.raises(SourceUnavailable, match="Authorization_RequestDenied"):
        read(emulator)
