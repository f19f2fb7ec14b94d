"""The Entra ID source read through the real MSAL and requests against the emulator: mapping,
paging, delta links, removals, a 410, throttling within the retry budget (SPEC §13)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sync.errors import IncompleteRead, SourceUnavailable
from sync.model import PROFILE_ATTRIBUTES, DirectoryUser
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.settings import EntraIdSourceSettings
from tests.entra_id.conftest import entra_keys
from tests.entra_id.emulator import SECRET, EntraEmulator, make_user

PROFILE = ReadRequest(frozenset(PROFILE_ATTRIBUTES))


def read_all(
    settings: EntraIdSourceSettings, request: ReadRequest = PROFILE
) -> tuple[list[Page], ReadResult]:
    items = list(drain(open_source(settings).read(request)))
    result = items.pop()
    assert isinstance(result, ReadResult)
    return [p for p in items if isinstance(p, Page)], result


def users(pages: list[Page]) -> dict[str, DirectoryUser]:
    return {u.source_id: u for page in pages for u in page.users}


def uid(n: int) -> str:
    return str(make_user(n)["id"])


def graph_queries(emulator: EntraEmulator) -> list[dict[str, list[str]]]:
    return [q for method, path, q in emulator.requests if path.startswith("/v1.0/")]


def test_a_full_read_maps_every_user_and_ends_with_the_delta_link(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    emulator.update(
        uid(2),
        accountEnabled=False,
        otherMails=["Second@Other.example"],
        proxyAddresses=["SMTP:user2@contoso.example", "X500:/o=Contoso/cn=u2", "sip:u2@x"],
    )

    pages, result = read_all(settings)

    assert [len(p.users) for p in pages] == [3, 3, 1]  # the emulator pages by three
    found = users(pages)
    assert len(found) == 7 and result.full is True
    two = found[uid(2)]
    assert two == DirectoryUser(
        uid(2),
        active=False,
        primary_email="user2@contoso.example",
        emails=("user2@contoso.example", "Second@Other.example"),
        employee_code="E0002",
        given_name="Given2",
        family_name="Sur2",
        display_name="User 2",
    )
    assert found[uid(1)].emails == ("user1@contoso.example", "u1@contoso.example")
    # only the mapped properties are asked for, once, on the first request
    first = graph_queries(emulator)[0]
    assert first["$select"] == [
        "accountEnabled,displayName,employeeId,givenName,id,mail,otherMails,proxyAddresses,surname"
    ]
    assert result.watermark is not None
    assert result.watermark.startswith(f"{emulator.url}/v1.0/users/delta?")
    assert "%24deltatoken=" in result.watermark
    assert result.stats["pages"] == 3 and result.stats["users"] == 7


def test_a_delta_read_returns_changes_and_removals(
    settings: EntraIdSourceSettings, emulator: EntraEmulator
) -> None:
    _, first = read_all(settings)
    emulator.update(uid(4), surname="Renamed")
    emulator.delete(uid(3))
    emulator.add(make_user(8))

    pages, result = read_all(settings, ReadRequest(PROFILE.attributes, since=first.watermark))

    assert sorted(users(pages)) == [uid(4), uid(8)]
    assert users(pages)[uid(4)].family_name == "Renamed"
    assert [r for p in pages for r in p.removed] == [uid(3)]
    assert result.full is False and result.watermark not in (None, first.watermark)
    # the delta link was followed as given: no $select of our own on it
    assert (
        "$deltatoken" in graph_queries(emulator)[-1] or "$skiptoken" in graph_queries(emulator)[-1]
    )

    again, quiet = read_all(settings, ReadRequest(PROFILE.attributes, since=result.watermark))
    assert users(again) == {} and quiet.full is False


def test_an_expired_delta_link_restarts_the_read_in_full(
    settings: EntraIdSourceSettings, emulator: EntraEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    _, first = read_all(settings)
    emulator.delete(uid(5))
    emulator.expire_delta_tokens()

    pages, result = read_all(settings, ReadRequest(PROFILE.attributes, since=first.watermark))

    assert result.full is True and len(users(pages)) == 6 and uid(5) not in users(pages)
    assert "the delta link expired" in caplog.text and "reading every user" in caplog.text
    queries = graph_queries(emulator)
    expired = next(n for n, q in enumerate(queries) if "$deltatoken" in q)
    assert "$select" in queries[expired + 1]  # a new delta query from the start


def test_throttling_is_retried_after_retry_after(
    emulator: EntraEmulator, settings: EntraIdSourceSettings
) -> None:
    emulator.script = {2: "429", 3: "503", 4: "504"}
    emulator.retry_after = "0.2"
    settings = settings.model_copy(update={"retry_max_seconds": 5.0})
    started = time.monotonic()

    pages, result = read_all(settings)

    assert len(users(pages)) == 7 and result.full is True
    assert result.stats["retries"] == 3
    assert time.monotonic() - started >= 0.6  # never sooner than Graph asked


@pytest.mark.parametrize("storm_from", [1, 2])
def test_a_throttling_storm_fails_within_the_budget(
    emulator: EntraEmulator, settings: EntraIdSourceSettings, storm_from: int
) -> None:
    """Before the first page the source is unavailable; after it the read is incomplete: either
    way a StopRun, so nobody is disabled, and in about the retry budget."""
    emulator.script = {n: "429" for n in range(storm_from, 200)}
    emulator.retry_after = "0.1"
    started = time.monotonic()

    with pytest.raises(SourceUnavailable if storm_from == 1 else IncompleteRead) as caught:
        read_all(settings)

    assert time.monotonic() - started < settings.retry_max_seconds + 2
    assert "HTTP 429 TooManyRequests" in str(caught.value)
    assert "retried for up to 0.5 s" in str(caught.value)


def test_an_app_without_permission_is_told_which_permissions_to_grant(
    emulator: EntraEmulator, settings: EntraIdSourceSettings
) -> None:
    emulator.permissions = set()

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    message = str(caught.value)
    assert "HTTP 403 Authorization_RequestDenied" in message
    assert "User.Read.All" in message and "GroupMember.Read.All" in message
    assert "admin consent" in message and settings.client_id in message


def test_a_wrong_secret_names_its_key_and_never_the_secret(
    emulator: EntraEmulator,
    settings: EntraIdSourceSettings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CLOMO_TEST_ENTRA_SECRET", "not-" + SECRET)

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    message = str(caught.value)
    assert "refused the client credential (client_secret_env CLOMO_TEST_ENTRA_SECRET)" in message
    assert "invalid_client: AADSTS7000215" in message
    assert SECRET not in message and SECRET not in caplog.text
    assert emulator.graph_requests == 0


def test_a_missing_secret_variable_is_named(
    settings: EntraIdSourceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOMO_TEST_ENTRA_SECRET")

    with pytest.raises(Exception, match="CLOMO_TEST_ENTRA_SECRET is not set"):
        read_all(settings)


def test_a_tenant_that_does_not_exist_is_named(emulator: EntraEmulator) -> None:
    settings = EntraIdSourceSettings.model_validate(
        entra_keys(emulator, tenant_id="no-such-tenant.example")
    )

    with pytest.raises(
        SourceUnavailable, match=r"tenant_id no-such-tenant\.example does not exist"
    ):
        read_all(settings)


def test_an_unknown_client_id_is_named(emulator: EntraEmulator) -> None:
    settings = EntraIdSourceSettings.model_validate(entra_keys(emulator, client_id="0000-wrong"))

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    assert "client_id 0000-wrong is not an application of tenant_id" in str(caught.value)
    assert "AADSTS700016" in str(caught.value)


def test_mapping_overrides_and_extra_fields_are_selected(emulator: EntraEmulator) -> None:
    settings = EntraIdSourceSettings.model_validate(
        entra_keys(
            emulator,
            attributes={
                "employee_code": "onPremisesExtensionAttributes.extensionAttribute1",
                "emails": "otherMails",
                "salesforce_account": "userPrincipalName",
            },
        )
    )
    emulator.update(uid(1), otherMails=["alias@contoso.example"])
    request = ReadRequest(
        frozenset({*PROFILE_ATTRIBUTES, "salesforce_account"}), frozenset({"department"})
    )

    pages, _ = read_all(settings, request)

    one = users(pages)[uid(1)]
    assert one.employee_code == "X1" and one.emails == ("alias@contoso.example",)
    assert one.salesforce_account == "user1@contoso.onmicrosoft.com"
    assert one.extra == (("department", "Sales"),)
    select = graph_queries(emulator)[0]["$select"][0].split(",")
    assert {"onPremisesExtensionAttributes", "userPrincipalName", "department"} <= set(select)
    assert "employeeId" not in select and "proxyAddresses" not in select


def test_a_required_attribute_without_a_property_stops_the_read(
    settings: EntraIdSourceSettings,
) -> None:
    request = ReadRequest(
        frozenset({"google_workspace_email"}), required=frozenset({"google_workspace_email"})
    )
    with pytest.raises(Exception, match="no default property for google_workspace_email"):
        read_all(settings, request)


def test_a_filter_lists_users_in_full_every_time(emulator: EntraEmulator) -> None:
    settings = EntraIdSourceSettings.model_validate(
        entra_keys(emulator, filter="department eq 'Sales'")
    )

    pages, result = read_all(settings, ReadRequest(PROFILE.attributes, since="ignored"))

    assert sorted(users(pages)) == [uid(n) for n in (1, 3, 5, 7)]
    assert result.full is True and result.watermark is None
    first = graph_queries(emulator)[0]
    assert first["$filter"] == ["department eq 'Sales'"] and first["$count"] == ["true"]


def test_a_filter_graph_refuses_names_the_key(emulator: EntraEmulator) -> None:
    settings = EntraIdSourceSettings.model_validate(
        entra_keys(emulator, filter="startswith(department,'S')")
    )

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    assert "HTTP 400 Request_UnsupportedQuery" in str(caught.value)
    assert "check filter \"startswith(department,'S')\"" in str(caught.value)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({}, "give exactly one of client_secret_env, client_secret_file or certificate_file"),
        (
            {"client_secret_env": "A", "certificate_file": "x.pem"},
            "given: client_secret_env, certificate_file",
        ),
        (
            {"client_secret_env": "A", "attributes": {"active": "accountEnabled"}},
            "attributes.active",
        ),
        ({"client_secret_env": "A", "authority": "http://login.example"}, "authority"),
        (
            {"client_secret_env": "A", "attributes": {"emails": "mail;x"}},
            "not a Graph user property",
        ),
    ],
)
def test_settings_are_checked(keys: dict[str, Any], problem: str) -> None:
    base = {"kind": "entra_id", "tenant_id": "contoso.example", "client_id": "c"}
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        EntraIdSourceSettings.model_validate({**base, **keys})


def test_no_secret_or_token_is_logged_even_at_debug(
    settings: EntraIdSourceSettings, emulator: EntraEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.script = {2: "429"}

    read_all(settings)

    [token] = emulator.tokens
    assert caplog.records  # the retry was logged
    assert SECRET not in caplog.text and token not in caplog.text


def test_an_untrusted_certificate_stops_at_once_with_the_remedy(
    emulator: EntraEmulator, settings: EntraIdSourceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    assert f"TLS with the authority {emulator.url}/" in str(caught.value)
    assert "REQUESTS_CA_BUNDLE" in str(caught.value)


def test_a_graph_endpoint_nobody_answers_is_retried_then_unavailable(
    emulator: EntraEmulator,
) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    keys = entra_keys(emulator, graph_endpoint=f"https://127.0.0.1:{port}")
    settings = EntraIdSourceSettings.model_validate(keys)
    emulator.resources.add(settings.graph_endpoint)  # tokens for it, as for another cloud's
    started = time.monotonic()

    with pytest.raises(SourceUnavailable) as caught:
        read_all(settings)

    assert "cannot reach Graph /v1.0/users/delta (ConnectionError)" in str(caught.value)
    assert time.monotonic() - started < settings.retry_max_seconds + 2


def test_a_netrc_entry_for_graph_s_host_does_not_replace_the_token(
    settings: EntraIdSourceSettings,
    emulator: EntraEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # requests would send a ~/.netrc login for the host as Basic auth over a plain header
    host = urlsplit(emulator.url).hostname
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password elsewhere\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    pages, result = read_all(settings)
    assert result.full and len(users(pages)) == 7
