"""CSRF, rate limits, headers and request bounds of the password pages, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.config.settings import Settings
from sync.entry.web.paths import reset_paths, token_parameter
from sync.errors import ConfigError
from tests.conftest import Workspace
from tests.web.conftest import Pages, ask_for_link, choose, form_value, path_of

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these pages add nothing store-specific (the reset page's tests run on
    PostgreSQL too), and a fresh PostgreSQL database per test costs a second and a half."""
    return f"sqlite:///{tmp_path}/store.db"


def test_every_form_needs_this_browsers_signed_token(pages: Pages) -> None:
    link = pages.link("user1@example.com", "account_created")
    client = pages.client()
    page = client.get(path_of(link))
    fields = {
        "token": form_value(page.text, "token"),
        "password": "a good password",
        "confirmation": "a good password",
    }
    good = form_value(page.text, "csrf")
    other = pages.client()  # another browser: its own cookie
    foreign = form_value(other.get("/password/forgot").text, "csrf")
    cookieless = pages.client()
    forged = pages.client(pages.app(secret="not-our-secret-" + "z" * 40))
    forged_token = form_value(forged.get("/password/forgot").text, "csrf")

    attempts = [
        (client, {}),  # no token
        (client, {"csrf": ""}),
        (client, {"csrf": good[:-3] + "abc"}),  # altered
        (client, {"csrf": foreign}),  # another browser's token
        (client, {"csrf": forged_token}),  # signed with another secret
        (cookieless, {"csrf": good}),  # the token without its cookie
    ]
    for who, csrf in attempts:
        refused = who.post("/password/reset", data={**fields, **csrf})
        assert refused.status_code == 403, csrf
        assert 'data-kind="form_expired"' in refused.text
    forgot = client.post("/password/forgot", data={"tenant": "acme", "account": "user1"})
    assert forgot.status_code == 403
    send = client.post("/password/forgot/send", data={"lookup": "x", "address": "0"})
    assert send.status_code == 403
    assert pages.account("user1")["password_set"] is False

    accepted = client.post("/password/reset", data={**fields, "csrf": good})
    assert accepted.status_code == 303
    assert pages.account("user1")["password_set"] is True


def test_requests_are_limited_per_client_address(pages: Pages) -> None:
    app = pages.app(address_limit="3/minute")
    client = pages.client(app, address="192.0.2.10")
    assert [client.get("/password/forgot").status_code for _ in range(3)] == [200] * 3
    limited = client.get("/password/forgot")
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert "リクエストが多すぎます" in limited.text and "Too many requests" in limited.text
    assert client.post("/password/forgot", data={}).status_code == 429
    assert client.get("/static/web.css").status_code == 200  # the stylesheet is not counted
    assert pages.client(app, address="192.0.2.11").get("/password/forgot").status_code == 200


def test_reset_emails_are_limited_per_account(pages: Pages) -> None:
    app = pages.app(account_limit="2/hour")
    before = len(pages.outbox())
    for address in ("192.0.2.1", "192.0.2.2"):
        client = pages.client(app, address=address)
        assert choose(client, ask_for_link(client, "acme", "user1"), "0").status_code == 200
    third = pages.client(app, address="192.0.2.3")
    listed = ask_for_link(third, "acme", "USER1")
    assert listed.status_code == 200  # looking up is not what is limited
    limited = choose(third, listed, "0")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 3000
    assert len(pages.outbox()) == before + 2
    other = choose(third, ask_for_link(third, "acme", "user3"), "0")
    assert other.status_code == 200  # another account has its own count
    assert len(pages.outbox()) == before + 3


def test_security_headers_on_every_response(pages: Pages) -> None:
    client = pages.client()
    responses = {
        "page": client.get("/password/forgot"),
        "redirect": client.get("/"),
        "not found": client.get("/nothing/here"),
        "wrong method": client.get("/password/forgot/send"),
        "unknown link": client.get("/password/reset?token=nope"),
        "stylesheet": client.get("/static/web.css"),
        "too large": client.post("/password/forgot", content=b"x" * 20_000),
    }
    expected_status = {"redirect": 302, "not found": 404, "wrong method": 405, "too large": 413}
    for what, response in responses.items():
        assert response.status_code == expected_status.get(what, 404 if "link" in what else 200)
        for name, value in SECURITY.items():
            assert response.headers[name] == value, (what, name)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "strict-transport-security" not in response.headers  # plain HTTP
        if what != "stylesheet":
            assert response.headers["cache-control"] == "no-store", what
    assert "<script" not in responses["page"].text
    assert responses["page"].headers["set-cookie"].startswith("clomo_csrf=")
    assert "httponly" in responses["page"].headers["set-cookie"].lower()


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(pages: Pages) -> None:
    client = pages.client(https=True)
    page = client.get("/password/forgot")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-clomo_csrf=")
    assert "secure" in cookie.lower() and "path=/" in cookie.lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert ask_for_link(client, "acme", "user1").status_code == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://panel.example.com/password/reset?token={token}", ("/password/reset", "token")),
        ("https://panel.example.com/pw?lang=ja&t={token}", ("/pw", "t")),
        ("https://panel.example.com?token={token}", ("/", "token")),
        ("https://panel.example.com/reset/{token}", None),  # in the path: not served
        ("https://panel.example.com/reset#{token}", None),
        ("https://panel.example.com/reset?token=x{token}", None),
    ],
)
def test_where_the_token_of_a_reset_url_is(url: str, expected: tuple[str, str] | None) -> None:
    assert token_parameter(url) == expected


def _settings(*urls: str) -> Settings:
    source = {"kind": "csv", "path": "users.csv"}
    tenants = [{"id": f"t{i}", "reset_url": url, "source": source} for i, url in enumerate(urls)]
    return Settings.model_validate({"tenants": tenants})


def test_tenants_share_paths_and_clashes_are_refused() -> None:
    settings = _settings(
        "https://a.example.com/password/reset?token={token}",
        "https://b.example.com/password/reset?t={token}",
        "https://c.example.com/other?token={token}",
        "https://d.example.com/in/path/{token}",
    )
    assert reset_paths(settings) == {
        "/password/reset": ("token", "t"),
        "/other": ("token",),
    }
    with pytest.raises(ConfigError, match="password pages' own"):
        reset_paths(_settings("https://a.example.com/password/forgot?token={token}"))


def test_web_refuses_to_start_with_nothing_to_serve(workspace: Workspace) -> None:
    workspace.configure(reset_url="https://panel.example.com/reset/{token}")
    result = workspace.cli("web", "--port", "0")
    assert result.code == 2
    assert "no tenant has a reset_url with a {token} query parameter" in result.err


def test_the_signing_secret_comes_from_the_environment(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = workspace.config.read_text()
    workspace.config.write_text(text + '\n[web]\nsecret_env = "WEB_SECRET"\nport = 0\n')
    monkeypatch.setenv("WEB_SECRET", "tiny-Secret-9")
    result = workspace.cli("web")
    assert result.code == 2  # a configuration error, as for every command (SPEC §14)
    assert "web.secret_env: the secret is shorter than 32 characters" in result.err
    assert "tiny-Secret-9" not in result.err
    checked = workspace.cli("config", "check")  # says what `web` would refuse
    assert checked.code == 2 and "web.secret_env: the secret is shorter than 32" in checked.err
    assert "tiny-Secret-9" not in checked.err
    monkeypatch.delenv("WEB_SECRET")
    result = workspace.cli("web")
    assert result.code == 2 and "WEB_SECRET is not set" in result.err


def test_config_check_covers_the_web_section(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = workspace.config.read_text()
    workspace.config.write_text(text + '\n[web]\nsecret_env = "WEB_SECRET"\n')
    monkeypatch.delenv("WEB_SECRET", raising=False)
    result = workspace.cli("config", "check")
    assert result.code == 2 and "web.secret_env: environment variable WEB_SECRET" in result.err
    monkeypatch.setenv("WEB_SECRET", "k" * 40)
    assert workspace.cli("config", "check").code == 0

    workspace.config.write_text(text + '\n[web]\naccount_limit = "5 per fortnight"\n')
    result = workspace.cli("config", "check")
    assert result.code == 2
    assert "web.account_limit: " in result.err and "'5 per fortnight' is not a rate" in result.err
