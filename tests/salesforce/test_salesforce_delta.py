"""Delta reads by SystemModstamp: only users changed since the last watermark, full=False."""

from __future__ import annotations

import datetime as dt

from sync.sources.base import Page, ReadRequest
from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator, make_user, stamp
from tests.salesforce.helpers import EPOCH, read_all

REQUEST = ReadRequest(attributes=frozenset({"primary_email"}))


def ids(pages: list[Page]) -> set[str]:
    return {u.source_id[-1] for p in pages for u in p.users}


def test_a_delta_returns_what_changed_since_the_watermark_and_moves_it(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    _, full = read_all(settings, REQUEST)
    assert full.watermark == "2024-01-08T09:00:00.000+0000"
    users = {u["Id"][-1]: u for u in emulator.users}
    users["2"].update(
        Email="renamed@acme.example", SystemModstamp=stamp(EPOCH + dt.timedelta(days=31))
    )
    users["4"].update(IsActive=False, SystemModstamp=stamp(EPOCH + dt.timedelta(days=32)))
    emulator.users.append(make_user(8, EPOCH + dt.timedelta(days=33)))

    pages, delta = read_all(settings, ReadRequest(REQUEST.attributes, since=full.watermark))

    # user 7 carries the old watermark itself: the query's overlap reads it again, harmlessly
    assert ids(pages) == {"2", "4", "8", "7"}
    changed = {u.source_id[-1]: u for p in pages for u in p.users}
    assert changed["2"].primary_email == "renamed@acme.example"
    assert changed["4"].active is False
    assert delta.full is False
    assert delta.watermark == "2024-02-03T09:00:00.000+0000"
    assert emulator.queries[-1] == (
        "SELECT Email, Id, IsActive, SystemModstamp, Username FROM User "
        "WHERE (UserType = 'Standard') AND SystemModstamp >= 2024-01-08T08:55:00Z ORDER BY Id"
    )


def test_a_delta_with_no_change_keeps_the_watermark(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    pages, delta = read_all(settings, ReadRequest(REQUEST.attributes, since="2025-06-01T00:00:00Z"))

    assert ids(pages) == set()
    assert delta.full is False and delta.watermark == "2025-06-01T00:00:00Z"


def test_only_a_full_read_shows_a_user_gone_out_of_scope(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    _, full = read_all(settings, REQUEST)
    users = {u["Id"][-1]: u for u in emulator.users}
    users["6"].update(UserType="PowerPartner", SystemModstamp=stamp(EPOCH + dt.timedelta(days=40)))

    delta_pages, delta = read_all(settings, ReadRequest(REQUEST.attributes, since=full.watermark))
    full_pages, again = read_all(settings, REQUEST)

    assert "6" not in ids(delta_pages) and delta.full is False  # a delta cannot see who left
    assert "6" not in ids(full_pages) and again.full is True  # a full read lets the run disable
    assert len(ids(full_pages)) == 6


def test_a_watermark_that_is_not_a_timestamp_falls_back_to_a_full_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    pages, result = read_all(settings, ReadRequest(REQUEST.attributes, since="cookie:abc"))

    assert len(ids(pages)) == 7 and result.full is True
    assert "SystemModstamp >=" not in emulator.queries[-1]
