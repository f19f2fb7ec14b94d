"""Reading `User` through the real simple-salesforce against the wire emulator."""

from __future__ import annotations

import pytest

from sync.errors import IncompleteRead, SourceUnavailable, StopRun
from sync.model import DirectoryUser
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest
from sync.sources.settings import SalesforceSourceSettings
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import read_all

NAMING = ReadRequest(attributes=frozenset({"primary_email", "given_name", "family_name"}))


def users_of(pages: list[Page]) -> list[DirectoryUser]:
    return [user for page in pages for user in page.users]


def test_a_full_read_follows_next_records_url_to_the_end(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    pages, result = read_all(settings, NAMING)

    users = users_of(pages)
    assert [len(p.users) for p in pages] == [3, 3, 1]
    assert [u.source_id for u in users] == [f"005{n:015d}" for n in range(1, 8)]
    assert result.full is True
    assert result.watermark == "2024-01-08T09:00:00.000+0000"  # the newest SystemModstamp
    assert result.stats["pages"] == 3 and result.stats["records"] == 7
    # one sign-in, one query, two nextRecordsUrl pages
    assert emulator.sign_ins == 1
    assert [p for _, p in emulator.requests if "query" in p][1:] == [
        "/services/data/v59.0/query/01g000000000000001-3",
        "/services/data/v59.0/query/01g000000000000001-6",
    ]
    first = users[0]
    assert (first.primary_email, first.given_name, first.family_name) == (
        "user1@acme.example",
        "First1",
        "Last1",
    )
    # Username is every user's salesforce_account, asked for or not
    assert [u.salesforce_account for u in users] == [
        f"user{n}@acme.example.sfdc" for n in range(1, 8)
    ]


def test_the_default_where_reads_standard_users_only(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    pages, _ = read_all(settings, NAMING)

    assert "chatter@acme.example.sfdc" not in {u.salesforce_account for u in users_of(pages)}
    assert emulator.queries == [
        "SELECT Email, FirstName, Id, IsActive, LastName, SystemModstamp, Username FROM User "
        "WHERE (UserType = 'Standard') ORDER BY Id"
    ]


def test_inactive_users_are_inactive_and_users_without_email_still_come(
    settings: SalesforceSourceSettings,
) -> None:
    pages, _ = read_all(settings, NAMING)

    by_id = {u.source_id: u for u in users_of(pages)}
    assert [i for i, u in by_id.items() if not u.active] == ["005000000000000003"]
    no_email = by_id["005000000000000005"]
    assert no_email.primary_email is None and no_email.active
    assert no_email.all_emails() == ()


def test_an_expired_session_is_signed_in_again_and_the_read_resumes(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    emulator.script = {2: "expire"}  # the session dies before the second page

    pages, result = read_all(settings, NAMING)

    assert len(users_of(pages)) == 7 and len({u.source_id for u in users_of(pages)}) == 7
    assert result.full is True
    assert emulator.sign_ins == 2 and result.stats["sign_ins"] == 2
    # the second page was asked twice (401, then with the new session), the query only once
    assert len(emulator.queries) == 1
    assert [p for _, p in emulator.requests].count(
        "/services/data/v59.0/query/01g000000000000001-3"
    ) == 2


def test_a_session_refused_again_right_after_signing_in_stops_the_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    emulator.script = {2: "expire", 3: "expire"}

    with pytest.raises(IncompleteRead, match="INVALID_SESSION_ID"):
        read_all(settings, NAMING)
    assert emulator.sign_ins == 2


def test_the_api_limit_stops_the_run_and_says_the_allowance_is_spent(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    emulator.script = {3: "limit"}
    source = open_source(settings)
    read = source.read(NAMING)
    first = next(read)
    second = next(read)

    with pytest.raises(
        StopRun, match="API request allowance for the last 24 hours is spent"
    ) as caught:
        next(read)
    assert len(first.users) + len(second.users) == 6
    assert "REQUEST_LIMIT_EXCEEDED" in str(caught.value)
    assert emulator.data_requests == 3  # not retried: retrying would only spend more


def test_a_5xx_and_a_dropped_connection_are_retried(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    emulator.script = {1: "503", 3: "drop"}

    pages, result = read_all(settings, NAMING)

    assert len(users_of(pages)) == 7 and result.full is True
    assert result.stats["retries"] == 2
    assert emulator.data_requests == 5


def test_a_server_that_stays_down_ends_in_an_incomplete_read_within_the_bound(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    import time

    source = open_source(settings)
    read = source.read(NAMING)
    assert len(next(read).users) == 3
    emulator.always = "503"
    started = time.monotonic()

    with pytest.raises(IncompleteRead, match=r"stopped after 3 of 7 users.*SERVER_UNAVAILABLE"):
        next(read)
    assert time.monotonic() - started < settings.retry_max_seconds + 2
    assert emulator.data_requests > 2  # it did retry


def test_a_page_that_ends_the_read_early_is_an_incomplete_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    emulator.script = {2: "truncate"}

    with pytest.raises(IncompleteRead, match="returned 6 of the 7 users"):
        read_all(settings, NAMING)


def test_a_lookup_read_carries_username_and_the_fields_asked_for(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    request = ReadRequest(
        attributes=frozenset({"salesforce_account", "primary_email", "emails", "employee_code"}),
        extra_fields=frozenset({"FederationIdentifier"}),
    )

    pages, _ = read_all(settings, request)

    first = users_of(pages)[0]
    assert first.salesforce_account == "user1@acme.example.sfdc"
    assert first.employee_code == "E0001"
    assert first.emails == ("user1@acme.example",)
    assert first.attribute("FederationIdentifier") == "fed-1"
    assert "FederationIdentifier" in emulator.queries[0] and "FirstName" not in emulator.queries[0]


def test_an_extra_field_that_is_not_a_field_name_never_reaches_salesforce(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    request = ReadRequest(
        attributes=frozenset(), extra_fields=frozenset({"Id FROM User WHERE Id != null --"})
    )

    with pytest.raises(StopRun, match="not Salesforce field names"):
        read_all(settings, request)
    assert emulator.requests == []


def test_a_where_that_salesforce_rejects_stops_the_run_naming_the_setting(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    bad = settings.model_copy(update={"where": "UserType = 'Standard' AND AND IsActive"})

    with pytest.raises(StopRun, match=r"MALFORMED_QUERY.*check the source's `where`"):
        read_all(bad, NAMING)


def test_an_unknown_field_in_attributes_is_reported_by_salesforce(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    bad = settings.model_copy(update={"attributes": {"employee_code": "Employee_Code__c"}})

    with pytest.raises(StopRun, match="INVALID_FIELD: No such column 'Employee_Code__c'"):
        read_all(bad, ReadRequest(attributes=frozenset({"employee_code"})))


def test_attribute_overrides_choose_the_fields(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    custom = settings.model_copy(update={"attributes": {"employee_code": "FederationIdentifier"}})

    pages, _ = read_all(custom, ReadRequest(attributes=frozenset({"employee_code"})))

    assert users_of(pages)[0].employee_code == "fed-1"
    assert "EmployeeNumber" not in emulator.queries[0]


def test_source_unavailable_when_nothing_listens(settings: SalesforceSourceSettings) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = settings.model_copy(
        update={"login_url": f"https://127.0.0.1:{port}", "retry_max_seconds": 0.5}
    )

    with pytest.raises(
        SourceUnavailable, match=r"sign-in: ConnectionError.*gave up after retrying"
    ):
        read_all(closed, NAMING)


def test_a_required_attribute_salesforce_does_not_hold_stops_before_any_request(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    needs_google = frozenset({"google_workspace_email"})

    with pytest.raises(StopRun, match=r"no default field for \['google_workspace_email'\]"):
        read_all(settings, ReadRequest(attributes=needs_google, required=needs_google))
    assert emulator.requests == []

    mapped = settings.model_copy(update={"attributes": {"google_workspace_email": "Email"}})
    pages, _ = read_all(mapped, ReadRequest(attributes=needs_google, required=needs_google))
    assert users_of(pages)[0].google_workspace_email == "user1@acme.example"
