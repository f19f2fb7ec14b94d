"""Each screen over HTTP: settings with their preview and the read-only refusal, editing an
account through the services (and the audit naming the administrator), runs and "resync now",
held change sets, and what each privilege may do. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html
import json
import re
import time
from urllib.parse import unquote_plus

import pytest
from starlette.testclient import TestClient

from sync.model.actor import Actor
from sync.services.accounts import Edit, edit_account
from sync.services.passwords import set_password
from sync.services.tenants import current_tenant
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.timeutil import utc_now
from tests.support.configs import CSV_COLUMNS, person, table, write_users
from tests.web.admin.conftest import Console, csrf_of
from tests.web.conftest import RESET_URL

ACME = "/admin/acme"


def provision(console: Console) -> None:
    """The console reads tenants from the store; a command's start copies the edited
    configuration file's tenants into it (as `clomo-sync web` did when it started)."""
    assert console.pages.ws.cli("tenants", "list").code == 0


def test_the_settings_preview_counts_the_renames_and_saving_is_refused_honestly(
    console: Console,
) -> None:
    client = console.signed_in()
    page = client.get(ACME + "/settings")
    assert page.status_code == 200
    assert 'id="read-only"' in page.text and "provisioned from the configuration file" in page.text
    assert re.search(r'value="email_local_part"\s+checked', page.text)
    csrf = csrf_of(page.text)
    rule = {"account_name_source": "custom", "custom_template": "{family_name}.{given_name}",
            "auth_type": "password"}  # fmt: skip
    preview = client.post(ACME + "/settings/preview", data={"csrf": csrf, **rule})
    assert preview.status_code == 200, preview.text
    assert 'id="count-renames" data-count="5"' in preview.text
    assert 'id="count-conflicts" data-count="0"' in preview.text
    example = re.search(r'<td>user1</td><td class="after">([^<]+)</td>', preview.text)
    assert example and example.group(1) == "Family1.Given1"
    assert 'data-holds="no"' in preview.text

    saved = client.post(ACME + "/settings/save", data={"csrf": csrf_of(preview.text), **rule})
    assert saved.status_code == 409
    refused = saved.text.split('id="refused"', 1)[1].split("</div>", 1)[0]
    assert "tenant acme is provisioned from the configuration file" in refused
    settings = console.pages.settings.tenant("acme")
    assert settings.account_name_source == "email_local_part"
    assert set(console.pages.ws.accounts()) == {f"user{n}" for n in range(1, 6)}


def test_the_preview_says_when_the_rename_guard_would_hold(console: Console) -> None:
    console.pages.ws.configure(max_rename=2)
    provision(console)
    client = console.signed_in()
    csrf = csrf_of(client.get(ACME + "/settings").text)
    rule = {"account_name_source": "employee_code", "auth_type": "password"}
    preview = client.post(ACME + "/settings/preview", data={"csrf": csrf, **rule})
    assert 'data-holds="yes"' in preview.text
    assert "more than max_rename = 2" in preview.text
    assert 'id="count-renames" data-count="5"' in preview.text
    assert preview.text.count('class="after">E0000') == 5  # the held renames, listed


def test_a_preview_whose_source_cannot_be_read_says_so(console: Console) -> None:
    ws = console.pages.ws
    ws.tenant["source"] = {"kind": "csv", "path": str(ws.root / "gone.csv")}
    ws.configure()
    provision(console)
    client = console.signed_in()
    csrf = csrf_of(client.get(ACME + "/settings").text)
    rule = {"account_name_source": "employee_code", "auth_type": "password"}
    preview = client.post(ACME + "/settings/preview", data={"csrf": csrf, **rule})
    assert preview.status_code == 200
    failed = preview.text.split('id="preview-failed"', 1)[1].split("</div>", 1)[0]
    assert "gone.csv" in failed


def test_settings_refuse_what_the_configuration_would_refuse(console: Console) -> None:
    client = console.signed_in()
    csrf = csrf_of(client.get(ACME + "/settings").text)
    for form, said in [
        ({"account_name_source": "custom", "auth_type": "password"}, "needs custom_template"),
        ({"account_name_source": "custom", "custom_template": "{nope}", "auth_type": "password"},
         "{nope} is not one of"),
        ({"account_name_source": "phone_number", "auth_type": "password"}, "account_name_source"),
        ({"account_name_source": "email_local_part", "auth_type": "kerberos"}, "auth_type"),
        ({"account_name_source": "email_local_part", "auth_type": "password"}, "Nothing was"),
    ]:  # fmt: skip
        answer = client.post(ACME + "/settings/preview", data={"csrf": csrf, **form})
        assert answer.status_code == 400, form
        assert said in answer.text, (form, answer.text)


def test_a_console_edit_waits_for_a_running_sync_and_is_refused_after(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §14: the console takes the tenant's lock as a run does (it used to edit without it:
    5 of 5 console renames were overwritten by a racing run, 5 of 5 runs failed on a name the
    console took). While a run holds the lock the edit waits, then is refused, changing nothing."""
    monkeypatch.setattr("sync.entry.web.console.accounts.EDIT_WAIT_SECONDS", 0.5)
    client = console.signed_in()
    page = client.get(ACME + "/accounts/user4")
    form = {"csrf": csrf_of(page.text), "name": "renamed.during.run", "role": "none",
            "memo": "", "password": "", "password_confirm": ""}  # fmt: skip
    with named_lock(console.pages.engine, "tenant:acme") as held:  # as a running sync holds it
        assert held
        refused = client.post(ACME + "/accounts/user4/edit", data=form)
    assert refused.status_code == 400
    assert "is being synced; nothing was changed" in refused.text
    assert "同期の実行中のため、何も変更していません。" in refused.text  # said in Japanese too
    assert console.pages.account("user4")["name"] == "user4"
    saved = client.post(ACME + "/accounts/user4/edit", data=form)  # the run has ended
    assert saved.status_code == 303, saved.text
    assert console.pages.account("renamed.during.run")["name_locked"] is True


def test_the_preview_shows_what_a_template_with_filters_names(console: Console) -> None:
    readings = ["ヤマダ タロウ", "さとう ゆうき", "ｽｽﾞｷ ｲﾁﾛｳ", "山田 タロウ", "ホンマ ジュンペイ"]
    with console.pages.ws.csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*CSV_COLUMNS, "family_name_yomi", "given_name_yomi"])
        writer.writeheader()
        for number, reading in enumerate(readings, start=1):
            family, given = reading.split()
            writer.writerow(person(number, family_name_yomi=family, given_name_yomi=given))
    client = console.signed_in()
    page = client.get(ACME + "/settings")
    assert "<code>|romaji(passport)</code>" in page.text
    template = "{family_name_yomi|romaji}.{given_name_yomi|romaji(passport)}"
    rule = {"account_name_source": "custom", "custom_template": template, "auth_type": "password"}
    preview = client.post(ACME + "/settings/preview", data={"csrf": csrf_of(page.text), **rule})
    assert preview.status_code == 200, preview.text
    renames = dict(re.findall(r'<td>(user\d)</td><td class="after">([^<]+)</td>', preview.text))
    assert renames == {"user1": "yamada.taro", "user2": "satou.yuki", "user3": "suzuki.ichiro",
                       "user5": "honma.jumpei"}  # fmt: skip
    unnamed = html.unescape(preview.text.split('id="unnamed"', 1)[1].split("</ul>", 1)[0])
    assert "u-00004</code>: invalid_name: '山田.taro' is not allowed" in unnamed

    bad = {**rule, "custom_template": "{family_name_yomi|hepburn}"}
    answer = client.post(ACME + "/settings/preview", data={"csrf": csrf_of(page.text), **bad})
    assert answer.status_code == 400
    assert (
        "custom_template '{family_name_yomi|hepburn}': {family_name_yomi|hepburn}: "
        "filter 'hepburn' is unknown"
    ) in html.unescape(answer.text)


def test_an_account_is_edited_through_the_services_and_audited(console: Console) -> None:
    client = console.signed_in()
    page = client.get(ACME + "/accounts/user4")
    assert page.status_code == 200
    form = {"csrf": csrf_of(page.text), "name": "yamada.taro", "role": "custom_admin",
            "scheme": "helpdesk", "memo": "moved to Osaka", "password": "Sakura2026",
            "password_confirm": "Sakura2026"}  # fmt: skip
    saved = client.post(ACME + "/accounts/user4/edit", data=form)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].startswith(ACME + "/accounts/yamada.taro?")
    shown = console.pages.account("yamada.taro")
    assert (shown["role"], shown["role_scheme"], shown["memo"]) == (
        "custom_admin",
        "helpdesk",
        "moved to Osaka",
    )
    assert shown["name_locked"] is True and shown["password_set"] is True
    history = console.pages.ws.cli(
        "accounts", "history", "--tenant", "acme", "yamada.taro", "--json"
    )
    events = [(e["actor"], e["action"]) for e in json.loads(history.out)]
    assert ("admin:user1", "renamed") in events
    assert ("admin:user1", "edited") in events and ("admin:user1", "password_set") in events
    assert ("account_renamed", "user4@example.com", "sent") in console.pages.outbox()
    detail = client.get(saved.headers["location"]).text
    assert "admin:user1" in detail and "renamed user4 to yamada.taro" in detail


def test_a_refused_edit_changes_nothing(console: Console) -> None:
    client = console.signed_in()
    page = client.get(ACME + "/accounts/user4")
    base = {"csrf": csrf_of(page.text), "name": "user4", "role": "none", "memo": ""}
    for extra, said in [
        ({"name": "user5"}, "taken by"),
        ({"name": "admin"}, "taken by"),  # reserved
        ({"password": "Sakura2026", "password_confirm": "Sakura2027"}, "does not match"),
        ({"role": "system_admin", "password": "abc", "password_confirm": "abc"}, "upper-case"),
        ({"role": "custom_admin"}, "needs a permission scheme"),
        ({"memo": "a\u202eb", "name": "renamed4"}, "control character"),
    ]:
        answer = client.post(ACME + "/accounts/user4/edit", data={**base, **extra})
        assert answer.status_code == 400, extra
        assert said in answer.text, (extra, answer.text)
    shown = console.pages.account("user4")
    assert (shown["role"], shown["memo"], shown["password_set"]) == ("none", None, False)
    history = console.pages.ws.cli("accounts", "history", "--tenant", "acme", "user4", "--json")
    assert all(e["actor"] == "run" for e in json.loads(history.out))


def test_a_long_japanese_memo_is_kept_whole(console: Console) -> None:
    client = console.signed_in()
    page = client.get(ACME + "/accounts/user4")
    memo = "大阪支社\n" + "営" * 3995
    form = {"csrf": csrf_of(page.text), "name": "user4", "role": "none", "memo": memo}
    assert client.post(ACME + "/accounts/user4/edit", data=form).status_code == 303
    assert console.pages.account("user4")["memo"] == memo
    refused = client.post(ACME + "/accounts/user4/edit", data={**form, "memo": memo + "営"})
    assert refused.status_code == 400 and "at most 4000 are kept" in refused.text


def test_a_reset_link_is_sent_and_audited(console: Console) -> None:
    client = console.signed_in(name="user2")  # an operator may
    page = client.get(ACME + "/accounts/user5")
    sent = client.post(ACME + "/accounts/user5/reset", data={"csrf": csrf_of(page.text)})
    assert sent.status_code == 303
    assert unquote_plus(sent.headers["location"]).endswith("reset link to u***@example.com: sent")
    assert ("password_reset", "user5@example.com", "sent") in console.pages.outbox()
    history = console.pages.ws.cli("accounts", "history", "--tenant", "acme", "user5", "--json")
    assert ("admin:user2", "reset_requested") in [
        (e["actor"], e["action"]) for e in json.loads(history.out)
    ]


def test_accounts_are_searched_filtered_and_paged(console: Console) -> None:
    ws = console.pages.ws
    people = [person(n) for n in range(1, 121)] + [person(200, display_name="山田 太郎")]
    ws.users(people)
    ws.sync()
    ws.users([*people[:-2], person(120, active="false"), people[-1]])
    assert ws.sync()["counts"]["disabled"] == 1
    client = console.signed_in()
    first = client.get(ACME + "/accounts")
    names = re.findall(r'class="account">([^<]+)<', first.text)
    assert len(names) == 50 and names == sorted(names)
    seen = list(names)
    next_page = re.search(r'href="([^"]+)" id="next-page"', first.text)
    while next_page:
        page = client.get(next_page.group(1).replace("&amp;", "&"))
        seen += re.findall(r'class="account">([^<]+)<', page.text)
        next_page = re.search(r'href="([^"]+)" id="next-page"', page.text)
    assert len(seen) == 121 and len(set(seen)) == 121

    def found(query: str) -> list[str]:
        return re.findall(r'class="account">([^<]+)<', client.get(ACME + "/accounts?" + query).text)

    assert found("q=山田") == ["user200"]
    assert found("q=USER11%40example") == ["user11"]
    assert found("status=disabled") == ["user120"]
    assert found("role=operator") == ["user2"]
    assert found("q=user1&role=system_admin") == ["user1"]
    assert found("q=%25") == []  # a LIKE wildcard is searched for literally


def test_resync_now_runs_the_tenant_in_the_background(console: Console) -> None:
    client = console.signed_in(name="user2")
    before = len(re.findall(r'class="run"', client.get(ACME + "/runs").text))
    page = client.get(ACME + "/runs")
    started = client.post(ACME + "/runs/resync", data={"csrf": csrf_of(page.text)})
    assert started.status_code == 303 and started.headers["location"].endswith("started=yes")
    assert "resync-started" in client.get(started.headers["location"]).text
    deadline = time.monotonic() + 30
    while len(re.findall(r'class="run"', client.get(ACME + "/runs").text)) == before:
        assert time.monotonic() < deadline, "the resync did not finish"
        time.sleep(0.2)
    run_id = re.search(r'runs/([0-9a-f-]{36})" class="run"', client.get(ACME + "/runs").text)
    assert run_id
    report = client.get(f"{ACME}/runs/{run_id.group(1)}")
    assert 'id="run-status">succeeded' in report.text


def test_held_renames_are_reviewed_and_approved(console: Console) -> None:
    ws = console.pages.ws
    ws.configure(account_name_source="employee_code", max_rename=2)
    blocked = ws.sync()
    assert blocked["status"] == "blocked"
    set_id = blocked["held"][0]["change_set"]
    operator = console.signed_in(name="user2")
    listing = operator.get(ACME + "/changes")
    assert set_id in listing.text
    shown = operator.get(f"{ACME}/changes/{set_id}")
    assert "view-only" in shown.text and 'id="approve"' not in shown.text
    assert '<td>user3</td><td class="after">E00003</td>' in shown.text
    refused = operator.post(f"{ACME}/changes/{set_id}/approve", data={"csrf": csrf_of(shown.text)})
    assert refused.status_code == 403 and 'id="forbidden"' in refused.text

    admin = console.signed_in()
    shown = admin.get(f"{ACME}/changes/{set_id}")
    approved = admin.post(f"{ACME}/changes/{set_id}/approve", data={"csrf": csrf_of(shown.text)})
    assert approved.status_code == 303, approved.text
    run = admin.get(approved.headers["location"])
    assert 'id="approved"' in run.text and 'id="run-status">succeeded' in run.text
    assert set(ws.accounts()) == {f"E0000{n}" for n in range(1, 6)}
    again = admin.post(f"{ACME}/changes/{set_id}/approve", data={"csrf": csrf_of(shown.text)})
    assert again.status_code == 409 and "only a pending set can be decided" in again.text
    sets = json.loads(ws.cli("changes", "list", "--tenant", "acme", "--json").out)
    assert [(s["status"], s["decided_by"]) for s in sets] == [("approved", "admin:user1")]


def test_a_held_set_is_rejected(console: Console) -> None:
    ws = console.pages.ws
    ws.configure(account_name_source="employee_code", max_rename=2)
    set_id = ws.sync()["held"][0]["change_set"]
    admin = console.signed_in()
    shown = admin.get(f"{ACME}/changes/{set_id}")
    rejected = admin.post(f"{ACME}/changes/{set_id}/reject", data={"csrf": csrf_of(shown.text)})
    assert rejected.status_code == 303
    assert 'id="set-status">rejected' in admin.get(rejected.headers["location"]).text
    assert set(ws.accounts()) == {f"user{n}" for n in range(1, 6)}


def test_what_an_operator_may_not_do(console: Console) -> None:
    client = console.signed_in(name="user2")
    page = client.get(ACME + "/settings")
    assert page.status_code == 200 and 'id="view-only"' in page.text
    assert 'id="preview"' not in page.text
    csrf = csrf_of(page.text)
    rule = {"account_name_source": "employee_code", "auth_type": "password"}
    for path in ("/settings/preview", "/settings/save"):
        answer = client.post(ACME + path, data={"csrf": csrf, **rule})
        assert answer.status_code == 403, path
    # but it may view every screen and edit accounts
    for path in ("/accounts", "/accounts/user4", "/runs", "/changes"):
        assert client.get(ACME + path).status_code == 200, path
    edit = client.post(ACME + "/accounts/user4/edit", data={"csrf": csrf, "name": "user4",
                                                         "role": "none", "memo": "ok"})  # fmt: skip
    assert edit.status_code == 303


def test_every_form_needs_its_csrf_token(console: Console) -> None:
    client = console.signed_in()
    for path in ("/logout", "/settings/preview", "/settings/save", "/accounts/user4/edit",
                 "/accounts/user4/reset", "/runs/resync"):  # fmt: skip
        for data in ({}, {"csrf": "forged"}):
            answer = client.post(ACME + path, data={**data, "memo": "x", "name": "user4"})
            assert answer.status_code == 403, path
            assert 'data-kind="form_expired"' in answer.text
    assert console.pages.account("user4")["memo"] is None
    assert client.get(ACME + "/accounts").status_code == 200  # still signed in


def test_console_pages_carry_the_security_headers(console: Console) -> None:
    client = console.signed_in()
    for path in ("/login", "/accounts", "/settings", "/runs", "/changes", "/accounts/nobody"):
        answer = client.get(ACME + path)
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"


def store_tenant(console: Console, people: int, **keys: object) -> TestClient:
    """Tenant gamma, created by `tenants apply` (the store's own, so the console may save its
    settings) and run once; a client signed in as its system administrator user1."""
    ws = console.pages.ws
    gamma_csv = ws.root / "gamma.csv"
    write_users(gamma_csv, [person(n) for n in range(1, people + 1)])
    tenants_file = ws.root / "gamma.toml"
    tenants_file.write_text(
        table(
            "[[tenants]]",
            {
                "id": "gamma",
                "account_name_source": "email_local_part",
                "reset_url": RESET_URL,
                "console": {"require_mfa_for": []},  # the second factor: test_mfa.py
                **keys,
            },
        )
        + table("[tenants.source]", {"kind": "csv", "path": str(gamma_csv)}),
        encoding="utf-8",
    )
    assert ws.cli("tenants", "apply", str(tenants_file)).code == 0
    assert ws.cli("sync", "--tenant", "gamma").code == 0
    gamma = current_tenant(console.pages.engine, "gamma")
    assert gamma is not None
    with writing(console.pages.engine) as conn:
        edit_account(conn, gamma[0], "user1", Edit(role="system_admin"), now=utc_now(),
                     domain="example.com", actor=Actor("setup"))  # fmt: skip
        set_password(conn, "gamma", "user1", "Gamma-Admin1", utc_now(), Actor("setup"))
    client = console.client()
    assert console.sign_in(client, "gamma", "user1", "Gamma-Admin1").status_code == 303
    return client


def save_rule(client: TestClient, rule: dict[str, str]) -> None:
    page = client.get("/admin/gamma/settings")
    preview = client.post(
        "/admin/gamma/settings/preview", data={"csrf": csrf_of(page.text), **rule}
    )
    saved = client.post("/admin/gamma/settings/save", data={"csrf": csrf_of(preview.text), **rule})
    assert saved.status_code == 303, saved.text


def test_an_approval_in_the_console_applies_the_rule_saved_there(console: Console) -> None:
    """SPEC §14: the console approved a held rename with the settings it had at start-up, said
    "applied" and renamed nobody; it now reads the tenant when it approves."""
    ws = console.pages.ws
    client = store_tenant(console, 5, max_rename=2)
    save_rule(client, {"account_name_source": "employee_code", "auth_type": "password"})
    blocked = json.loads(ws.cli("sync", "--tenant", "gamma", "--json").out)
    assert blocked["status"] == "blocked" and blocked["held"][0]["kind"] == "rename"
    set_id = blocked["held"][0]["change_set"]
    shown = client.get(f"/admin/gamma/changes/{set_id}")
    approved = client.post(f"/admin/gamma/changes/{set_id}/approve",
                           data={"csrf": csrf_of(shown.text)})  # fmt: skip
    assert approved.status_code == 303, approved.text
    run = client.get(approved.headers["location"])
    assert 'id="approved"' in run.text and "applied 5 of them" in run.text
    names = json.loads(ws.cli("accounts", "list", "--tenant", "gamma", "--json").out)
    assert sorted(a["name"] for a in names) == [f"E0000{n}" for n in range(1, 6)]


def test_a_tenant_stored_as_data_is_saved_from_the_console(console: Console) -> None:
    """A tenant created by `tenants apply` is the store's own: the console's save is a new
    version in its history, with the administrator as author, and the next run uses it."""
    ws = console.pages.ws
    client = store_tenant(console, 3)
    page = client.get("/admin/gamma/settings")
    assert 'id="read-only"' not in page.text
    rule = {"account_name_source": "employee_code", "auth_type": "password"}
    preview = client.post(
        "/admin/gamma/settings/preview", data={"csrf": csrf_of(page.text), **rule}
    )
    assert 'id="count-renames" data-count="3"' in preview.text
    saved = client.post("/admin/gamma/settings/save", data={"csrf": csrf_of(preview.text), **rule})
    assert saved.status_code == 303, saved.text

    history = ws.cli("tenants", "history", "gamma").out
    assert "admin:user1" in history and "account_name_source" in history
    planned = ws.cli("sync", "--tenant", "gamma", "--dry-run", "--json")
    assert json.loads(planned.out)["counts"]["renamed"] == 3


def test_the_account_page_explains_the_next_run(console: Console) -> None:
    """SPEC §18: asked for by a link, the account page shows the person's next-run steps."""
    client = console.signed_in()
    page = client.get(ACME + "/accounts/user4")
    assert 'id="explain" href="/admin/acme/accounts/user4/explain"' in page.text
    write_users(console.pages.ws.csv, [person(n) for n in (1, 2, 3, 5)]
                + [person(4, display_name="Shiro")])  # fmt: skip
    shown = client.get(ACME + "/accounts/user4/explain")
    assert shown.status_code == 200, shown.text
    assert '<li data-step="name"><code>name</code> the part before the @: &#39;user4&#39;</li>' in (
        shown.text
    )
    assert 'id="explained-action">結果 <span lang="en">Action</span>: <code>update</code>' in (
        shown.text
    )
    assert console.pages.account("user4")["display_name"] == "User 4"  # nothing was written
    missing = client.get(ACME + "/accounts/nobody/explain")
    assert missing.status_code == 404


def test_the_run_page_names_the_person_of_each_issue(console: Console) -> None:
    write_users(console.pages.ws.csv, [person(n) for n in (1, 2, 3, 4, 5)]
                + [person(6, primary_email="", display_name="Roku")])  # fmt: skip
    report = console.pages.ws.sync()
    page = console.signed_in().get(f"{ACME}/runs/{report['run_id']}")
    assert page.status_code == 200
    assert (
        '<li><code>u-00006</code> <span class="person">Roku, employee_code E00006</span> '
        "missing_attribute: primary_email</li>"
    ) in page.text
