"""A pending account in the console (SPEC §16): listed under the status filter `pending`, its
page showing the status and the dates; it cannot sign in."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta

from tests.support.configs import CSV_COLUMNS, person
from tests.web.admin.conftest import Console

ACME = "/admin/acme"


def test_a_joiner_before_the_first_day_is_pending_in_the_console(console: Console) -> None:
    ws = console.pages.ws
    joins = date.today() + timedelta(days=30)
    with ws.csv.open("w", newline="", encoding="utf-8") as handle:
        rows = csv.DictWriter(handle, [*CSV_COLUMNS, "start_date"], extrasaction="ignore")
        rows.writeheader()
        for n in (1, 2, 3):
            rows.writerow(person(n))
        rows.writerow(person(9, start_date=joins.isoformat()))
    assert ws.sync()["counts"]["created"] == 1
    client = console.signed_in()

    listed = client.get(ACME + "/accounts?status=pending")
    assert re.findall(r'class="account">([^<]+)<', listed.text) == ["user9"]
    assert "入社前" in listed.text and "Pending" in listed.text
    page = client.get(ACME + "/accounts/user9")
    assert joins.isoformat() in page.text and "入社前" in page.text
