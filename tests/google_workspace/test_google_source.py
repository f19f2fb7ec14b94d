"""The Google Workspace source driven through the real google-api-python-client and google-auth
against the wire emulator: paging, mapping, fields, retries, token refresh, refusals."""

from __future__ import annotations

import time

import pytest

from sync.errors import IncompleteRead, SourceUnavailable, UserIssue
from sync.model import DirectoryUser, IssueReason
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.google_workspace.source import GoogleWorkspaceSource
from sync.sources.settings import GoogleWorkspaceSourceSettings
from tests.google_workspace.google_emulator import (
    ADMIN,
    CLIENT_EMAIL,
    SCOPE,
    GoogleEmulator,
    make_user,
)

EVERYTHING = frozenset(
    {
        "primary_email",
        "emails",
        "employee_code",
        "given_name",
        "family_name",
        "display_name",
        "google_workspace_email",
    }
)
# What a lookup asks of Google (SPEC §2): the attribute it provides and what it matches on.
LOOKUP = frozenset({"google_workspace_email", "primary_email", "emails", "employee_code"})


def read_all(
    settings: GoogleWorkspaceSourceSettings, request: ReadRequest
) -> tuple[list[Page], ReadResult]:
    pages: list[Page] = []
    result: ReadResult | None = None
    for item in drain(GoogleWorkspaceSource(settings).read(request)):
        if isinstance(item, ReadResult):
            result = item
        else:
            pages.append(item)
    assert result is not None
    return pages, result


def users_of(pages: list[Page]) -> dict[str, DirectoryUser]:
    return {user.source_id: user for page in pages for user in page.users}


def odd_users() -> list[dict[str, object]]:
    """The first users of every listing: each one a case the mapping must get right."""
    return [
        make_user(
            1,
            primaryEmail="taro.yamada@example.com",
            name={"givenName": "太郎", "familyName": "山田", "fullName": "山田 太郎"},
            emails=[
                {"address": "taro.yamada@example.com", "primary": True},
                {"address": "t.yamada@example.co.jp", "type": "work"},
                {"address": "taro@example.com"},
            ],
            externalIds=[
                {"value": "acct-77", "type": "account"},
                {"value": "E1001", "type": "organization"},
            ],
        ),
        make_user(2, suspended=True),
        make_user(3, archived=True),
        make_user(4, name={}),  # a user without names
        make_user(5, primaryEmail="Hanako.Sato@Example.COM", emails=[]),
        make_user(6, externalIds=[]),
    ]


def test_multi_page_listing_maps_every_user(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = odd_users() + [make_user(n) for n in range(7, 1202)]

    pages, result = read_all(settings, ReadRequest(EVERYTHING))

    assert [len(page.users) for page in pages] == [500, 500, 201]
    assert result.full is True and result.watermark is None
    assert result.stats == {"users_read": 1201, "pages": 3, "retries": 0}
    assert emulator.pages_requested() == [1, 2, 3]
    first = emulator.list_requests[0]
    assert (first["customer"], first["maxResults"]) == ("my_customer", "500")
    assert first["fields"] == (
        "nextPageToken,users(archived,emails,externalIds,id,"
        "name(familyName,fullName,givenName),primaryEmail,suspended)"
    )
    # one token for the whole read, asked by the service account for the administrator
    [claims] = emulator.token_claims
    assert (claims["iss"], claims["sub"], claims["scope"]) == (CLIENT_EMAIL, ADMIN, SCOPE)

    users = users_of(pages)
    taro = users[make_user(1)["id"]]
    assert taro == DirectoryUser(
        source_id=make_user(1)["id"],
        active=True,
        primary_email="taro.yamada@example.com",
        emails=("taro.yamada@example.com", "t.yamada@example.co.jp", "taro@example.com"),
        employee_code="E1001",
        given_name="太郎",
        family_name="山田",
        display_name="山田 太郎",
        google_workspace_email="taro.yamada@example.com",
    )
    assert users[make_user(2)["id"]].active is False  # suspended
    assert users[make_user(3)["id"]].active is False  # archived
    nameless = users[make_user(4)["id"]]
    assert (nameless.given_name, nameless.family_name, nameless.display_name) == (None,) * 3
    capitals = users[make_user(5)["id"]]
    assert capitals.primary_email == capitals.google_workspace_email == "hanako.sato@example.com"
    assert users[make_user(6)["id"]].employee_code is None
    assert users[make_user(1201)["id"]].employee_code == "E01201"
    assert sum(user.active for user in users.values()) == 1199


def test_only_the_needed_fields_are_asked_for(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 4)]

    pages, _ = read_all(settings, ReadRequest(frozenset({"primary_email"})))

    fields = emulator.list_requests[0]["fields"]
    assert fields == "nextPageToken,users(archived,id,primaryEmail,suspended)"
    assert [u.primary_email for u in pages[0].users] == [
        "user00001@example.com",
        "user00002@example.com",
        "user00003@example.com",
    ]


def test_a_lookup_read_gets_every_address_and_the_employee_code(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = odd_users()

    pages, result = read_all(settings, ReadRequest(LOOKUP))

    taro = users_of(pages)[make_user(1)["id"]]
    assert taro.google_workspace_email == "taro.yamada@example.com"
    assert taro.all_emails() == (
        "taro.yamada@example.com",
        "t.yamada@example.co.jp",
        "taro@example.com",
    )
    assert taro.employee_code == "E1001"
    assert taro.given_name is None  # not asked, not mapped
    assert result.full


def test_mapped_fields_custom_schemas_and_extra_fields(
    emulator: GoogleEmulator, key_file: object, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [
        make_user(
            1,
            orgUnitPath="/Sales",
            customSchemas={"Employment": {"code": "S-001"}, "Other": {"x": "y"}},
            externalIds=[{"value": "77", "type": "custom", "customType": "Staff No"}],
        )
    ]
    mapped = settings.model_copy(
        update={"attributes": {"employee_code": "customSchemas.Employment.code"}}
    )
    request = ReadRequest(
        frozenset({"employee_code"}),
        extra_fields=frozenset({"orgUnitPath", "externalIds[custom:Staff No]"}),
    )

    pages, _ = read_all(mapped, request)

    [user] = pages[0].users
    assert user.employee_code == "S-001"
    assert user.extra == (("externalIds[custom:Staff No]", "77"), ("orgUnitPath", "/Sales"))
    sent = emulator.list_requests[0]
    assert (sent["projection"], sent["customFieldMask"]) == ("custom", "Employment")
    assert sent["fields"] == (
        "nextPageToken,users(archived,customSchemas(Employment(code)),externalIds,id,"
        "orgUnitPath,suspended)"
    )


def test_query_and_domain_narrow_the_listing(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.domains = ("example.com", "example.jp")
    emulator.users = [
        make_user(1, orgUnitPath="/Sales"),
        make_user(2, orgUnitPath="/Sales/East"),
        make_user(3, orgUnitPath="/Engineering"),
        make_user(4, orgUnitPath="/Sales", primaryEmail="jiro@example.jp"),
    ]
    narrowed = settings.model_copy(update={"query": "orgUnitPath='/Sales'", "domain": "example.jp"})

    pages, result = read_all(narrowed, ReadRequest(frozenset({"primary_email"})))

    assert [u.primary_email for u in pages[0].users] == ["jiro@example.jp"]
    sent = emulator.list_requests[0]
    assert (sent["query"], sent["domain"], "customer" in sent) == (
        "orgUnitPath='/Sales'",
        "example.jp",
        False,
    )
    assert result.full  # a narrowed listing is complete for what the tenant syncs


def test_an_empty_listing_is_a_complete_read(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    pages, result = read_all(settings, ReadRequest(EVERYTHING))

    assert [page.users for page in pages] == [()]
    assert result.full and result.stats["users_read"] == 0


def test_a_user_without_an_id_is_reported_and_disables_nobody(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    broken = make_user(2)
    del broken["id"]
    emulator.users = [make_user(1), broken]

    pages, result = read_all(settings, ReadRequest(EVERYTHING))

    assert len(pages[0].users) == 1
    assert pages[0].issues == (
        UserIssue("user00002@example.com", IssueReason("missing_attribute"), "source_id (no id)"),
    )
    assert result.full is False


def test_rate_limits_and_server_errors_are_retried(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 1202)]
    emulator.fail(1, 429, "rateLimitExceeded", "Quota exceeded", times=2)
    emulator.fail(2, 503)  # in the middle of paging
    emulator.fail(3, 403, "userRateLimitExceeded", "User Rate Limit Exceeded")

    pages, result = read_all(settings, ReadRequest(EVERYTHING))

    assert result.full and len(users_of(pages)) == 1201
    assert result.stats["retries"] == 4
    assert emulator.pages_requested() == [1, 1, 1, 2, 2, 3, 3]


def test_retry_after_is_waited_for(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(1)]
    emulator.fail(1, 429, "rateLimitExceeded", "Quota exceeded", retry_after="1")
    patient = settings.model_copy(update={"retry_max_seconds": 3})

    started = time.monotonic()
    _, result = read_all(patient, ReadRequest(EVERYTHING))

    assert result.full and result.stats["retries"] == 1
    assert time.monotonic() - started >= 1


def test_a_persistent_failure_mid_listing_makes_the_read_incomplete(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 1202)]
    emulator.fail(2, 503, times=None)
    pages: list[Page] = []

    started = time.monotonic()
    with pytest.raises(
        IncompleteRead, match=r"stopped after 500 users \(1 page\): HTTP 503 backendError"
    ):
        for item in drain(GoogleWorkspaceSource(settings).read(ReadRequest(EVERYTHING))):
            assert isinstance(item, Page), "a failed read must not end with a ReadResult"
            pages.append(item)

    assert time.monotonic() - started < 3  # the retry bound (0.5 s) holds
    assert len(pages) == 1
    assert emulator.pages_requested().count(2) >= 2  # retried before giving up


def test_a_persistent_failure_on_the_first_page_says_the_source_is_unavailable(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(1)]
    emulator.fail(1, 500, times=None)

    with pytest.raises(SourceUnavailable, match=r"HTTP 500 backendError.*retried for up to 0.5 s"):
        read_all(settings, ReadRequest(EVERYTHING))


def test_an_expired_token_is_refreshed_and_the_read_goes_on(
    emulator: GoogleEmulator, settings: GoogleWorkspaceSourceSettings
) -> None:
    emulator.users = [make_user(n) for n in range(1, 1202)]
    emulator.expire_tokens_before(2)

    pages, result = read_all(settings, ReadRequest(EVERYTHING))

    assert result.full and len(users_of(pages)) == 1201
    assert len(emulator.token_claims) == 2
    assert emulator.pages_requested() == [1, 2, 2, 3]
    assert result.stats["retries"] == 0  # google-auth refreshed; nothing to back off from


def test_open_source_finds_the_google_source(settings: GoogleWorkspaceSourceSettings) -> None:
    source = open_source(settings)
    assert isinstance(source, GoogleWorkspaceSource)
    assert source.kind == "google_workspace" and settings.full_sync_interval_hours is None
