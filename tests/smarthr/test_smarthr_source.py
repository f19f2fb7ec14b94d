"""The SmartHR source read through requests against the emulator: mapping, paging by Link,
x-total-count deciding whether the read is whole, rate limits, maintenance, refused tokens, and
per-crew issues (SPEC §16)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sync.errors import IncompleteRead, SourceUnavailable
from sync.model import PROFILE_ATTRIBUTES, DirectoryUser, IssueReason
from sync.sources import open_source
from sync.sources.base import Page, ReadRequest, ReadResult
from sync.sources.settings import SmartHrSourceSettings
from tests.smarthr.conftest import TOKEN_ENV, smarthr_keys
from tests.smarthr.emulator import TOKEN, SmartHrEmulator, make_crew
from tests.support.reading import collect

PROFILE = ReadRequest(frozenset(PROFILE_ATTRIBUTES))


def read_all(
    settings: SmartHrSourceSettings, request: ReadRequest = PROFILE
) -> tuple[list[Page], ReadResult]:
    read = collect(open_source(settings).read(request))
    assert read.result is not None
    return read.pages, read.result


def users(pages: list[Page]) -> dict[str, DirectoryUser]:
    return {u.employee_code or "": u for page in pages for u in page.users}


def with_keys(emulator: SmartHrEmulator, **keys: Any) -> SmartHrSourceSettings:
    return SmartHrSourceSettings.model_validate(smarthr_keys(emulator, **keys))


def test_crews_map_with_business_names_first_departments_and_dates(
    emulator: SmartHrEmulator,
) -> None:
    emulator.crew(2).update(
        business_last_name="佐藤", business_first_name="花", business_last_name_yomi="サトウ",
        entered_at="2026-04-01", resigned_at="2027-03-31",
    )  # fmt: skip
    settings = with_keys(emulator)
    request = ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=frozenset({"営業部"}))

    pages, result = read_all(settings, request)

    assert result.full and result.stats["passes"] == 1
    found = users(pages)
    assert len(found) == 7
    two = found["E00002"]
    assert (two.family_name, two.given_name, two.display_name) == ("佐藤", "花", "佐藤 花")
    assert (two.start_date, two.end_date) == (date(2026, 4, 1), date(2027, 3, 31))
    assert two.primary_email == "crew2@example.co.jp" and two.groups == frozenset()
    one = found["E00001"]
    assert (one.display_name, one.groups, one.active) == ("山田1 太郎", frozenset({"営業部"}), True)
    assert one.source_id == make_crew(1)["id"]
    # the readings, business names' first, for the templates' romaji filters (SPEC §18)
    assert (two.family_name_yomi, two.given_name_yomi) == ("サトウ", "タロウ")


def test_paging_follows_link_next_at_one_hundred_a_page(emulator: SmartHrEmulator) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    pages, result = read_all(with_keys(emulator))
    assert [len(p.users) for p in pages] == [100, 100, 50] and result.full
    queries = [q for path, q in emulator.requests]
    assert queries[0] == {"page": ["1"], "per_page": ["100"]}
    assert [q["page"] for q in queries] == [["1"], ["2"], ["3"]]


@pytest.mark.parametrize(("policy", "active"), [("keep", True), ("disable", False)])
def test_a_crew_on_leave_follows_absent_policy(
    emulator: SmartHrEmulator, policy: str, active: bool
) -> None:
    emulator.crew(3)["emp_status"] = "absent"
    emulator.crew(4)["emp_status"] = "retired"
    found = users(read_all(with_keys(emulator, absent_policy=policy))[0])
    assert found["E00003"].active is active and found["E00004"].active is False


def test_a_crew_without_id_or_with_bad_dates_is_its_own_issue_and_the_read_stays_whole(
    emulator: SmartHrEmulator,
) -> None:
    emulator.crew(2)["id"] = None
    emulator.crew(3)["entered_at"] = "2026-02-30"
    emulator.crew(4).update(entered_at="2026-04-01", resigned_at="2026-03-31")
    pages, result = read_all(with_keys(emulator))
    issues = {i.source_id: i.detail for p in pages for i in p.issues}
    assert result.full and len(users(pages)) == 4
    assert issues["E00002"] == "source_id (a crew without id)"
    assert issues[make_crew(3)["id"]].startswith("entered_at: '2026-02-30' is not a date")
    assert "resigned_at 2026-03-31 is before entered_at 2026-04-01" in issues[make_crew(4)["id"]]
    assert all(i.reason == IssueReason.MISSING_ATTRIBUTE for p in pages for i in p.issues)


def test_a_count_that_changes_mid_read_is_read_again_once(emulator: SmartHrEmulator) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    joined: list[int] = []

    def join_once(page: int) -> None:
        if page == 1 and not joined:
            joined.append(1)
            emulator.crews.insert(0, make_crew(900))  # shifts everyone one place down

    emulator.after_page = join_once
    pages, result = read_all(with_keys(emulator))
    assert result.full and result.stats["passes"] == 2 and len(users(pages)) == 251


def test_a_run_s_read_streams_each_pass_with_a_restart_between(emulator: SmartHrEmulator) -> None:
    """A restartable read (a run's) gives the pages as they come: the first pass, a restart
    page, then the second pass; a reader that keeps only what follows the restart has every
    crew once."""
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    joined: list[int] = []

    def join_once(page: int) -> None:
        if page == 1 and not joined:
            joined.append(1)
            emulator.crews.insert(0, make_crew(900))

    emulator.after_page = join_once
    request = ReadRequest(frozenset(PROFILE_ATTRIBUTES), restartable=True)
    pages, result = read_all(with_keys(emulator), request)
    assert [p.restart for p in pages] == [False] * 3 + [True] + [False] * 3
    assert result.full and result.stats["passes"] == 2
    second = pages[pages.index(Page(restart=True)) + 1 :]
    assert len(users(second)) == 251 == sum(len(p.users) for p in second)


def test_a_read_that_adds_up_streams_no_restart(emulator: SmartHrEmulator) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    request = ReadRequest(frozenset(PROFILE_ATTRIBUTES), restartable=True)
    pages, result = read_all(with_keys(emulator), request)
    assert not any(p.restart for p in pages) and len(pages) == 3
    assert result.full and result.stats["passes"] == 1 and len(users(pages)) == 250


def test_a_count_that_keeps_changing_fails_the_read_and_disables_nobody(
    emulator: SmartHrEmulator,
) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    added = iter(range(900, 1000))

    def keep_joining(page: int) -> None:
        if page == 1:
            emulator.crews.insert(0, make_crew(next(added)))

    emulator.after_page = keep_joining
    with pytest.raises(IncompleteRead, match="x-total-count changed between pages"):
        read_all(with_keys(emulator))
    assert emulator.crew_requests == 6  # two passes of three pages


def test_a_rate_limit_waits_for_its_reset(
    emulator: SmartHrEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.script = {1: "429"}
    emulator.rate_limit_reset = 0
    with caplog.at_level(logging.WARNING):
        _, result = read_all(with_keys(emulator))
    assert result.full and result.stats["retries"] == 1
    assert "too_many_requests" in caplog.text


def test_a_reset_beyond_the_retry_budget_fails_the_run_at_once(emulator: SmartHrEmulator) -> None:
    emulator.script = {1: "429"}
    emulator.rate_limit_reset = 3600
    with pytest.raises(SourceUnavailable, match="too_many_requests: リクエスト制限"):
        read_all(with_keys(emulator))
    assert emulator.crew_requests == 1


def test_maintenance_is_retried_then_fails_a_read_halfway_with_nobody_disabled(
    emulator: SmartHrEmulator,
) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    emulator.script = {2: "503"}
    assert read_all(with_keys(emulator))[1].full  # one 503, then the page came
    emulator.crew_requests = 0
    emulator.script = {n: "503" for n in range(2, 200)}
    with pytest.raises(
        IncompleteRead, match=r"service_maintenance: メンテナンス.*nobody is disabled"
    ):
        read_all(with_keys(emulator))


@pytest.mark.parametrize("fault", ["401", "403"])
def test_a_refused_token_fails_naming_the_key_never_the_token(
    emulator: SmartHrEmulator, fault: str
) -> None:
    emulator.script = {1: fault}
    with pytest.raises(SourceUnavailable) as refused:
        read_all(with_keys(emulator))
    text = str(refused.value)
    assert f"access_token_env ({TOKEN_ENV})" in text and TOKEN not in text
    assert ("unauthorized_token" if fault == "401" else "forbidden") in text


def test_a_wrong_token_is_refused(
    emulator: SmartHrEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "shr_wrong")
    with pytest.raises(SourceUnavailable, match="無効なアクセストークンです"):
        read_all(with_keys(emulator))


def test_a_next_link_to_another_site_never_gets_the_token(emulator: SmartHrEmulator) -> None:
    settings = SmartHrSourceSettings.model_validate(
        smarthr_keys(emulator, base_url=emulator.url.replace("127.0.0.1", "localhost"))
    )
    emulator.crews = [make_crew(n) for n in range(1, 151)]
    with pytest.raises(SourceUnavailable, match=r"points to http://127\.0\.0\.1"):
        read_all(settings)
    assert emulator.crew_requests == 1


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"subdomain": "acme"}, "exactly one of subdomain or base_url"),
        ({"access_token_file": "/x"}, "exactly one of access_token_env or access_token_file"),
        ({"attributes": {"active": "emp_status"}}, "attributes.active cannot be mapped"),
    ],
)
def test_settings_refuse_what_cannot_work(
    emulator: SmartHrEmulator, keys: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        with_keys(emulator, **keys)


def test_the_default_site_is_the_subdomain_s() -> None:
    settings = SmartHrSourceSettings.model_validate(
        {"kind": "smarthr", "subdomain": "acme", "access_token_env": "X"}
    )
    assert settings.site() == "https://acme.smarthr.jp"


def test_a_netrc_entry_for_the_site_does_not_replace_the_token(
    emulator: SmartHrEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # requests would send a ~/.netrc login for the host as Basic auth over a plain header
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    pages, result = read_all(with_keys(emulator))
    assert result.full and len(users(pages)) == 7
