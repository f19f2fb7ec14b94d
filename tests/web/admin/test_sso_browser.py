"""Single sign-on end to end in headless Chromium: `clomo-sync web` in a subprocess, a real
OpenID provider (npm's oidc-provider), the "sign in with" button on the sign-in page, the
provider's round trip, and the console with the session cookie the callback set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from sync.config.settings import load_settings
from sync.store.engine import open_store
from tests.support.configs import person, table, write_config, write_users
from tests.web.admin.conftest import give_passwords
from tests.web.admin.test_console_browser import Server
from tests.web.mailbox import free_port
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider, openid_provider
from tests.web.test_browser import nothing_blocked, submit, text_of


@pytest.fixture(scope="module")
def sso_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, OpenIdProvider]]:
    root = tmp_path_factory.mktemp("sso")
    write_users(root / "users.csv", [person(n) for n in range(1, 4)])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with openid_provider([f"{url}/admin/acme/oidc/callback"]) as provider:
        secret = root / "oidc-secret"
        secret.write_text(CLIENT_SECRET, encoding="utf-8")
        server = Server(root, root / "clomo-sync.toml", url, port, root)
        tenant = {
            "id": "acme",
            "account_name_source": "email_local_part",
            "reset_url": f"{url}/password/reset?token={{token}}",
            "console": {"oidc": {"issuer": provider.issuer, "client_id": CLIENT_ID,
                                 "client_secret_file": str(secret), "provider_name": "Test IdP"}},
            "source": {"kind": "csv", "path": str(root / "users.csv")},
        }  # fmt: skip
        write_config(server.config, f"sqlite:///{root}/store.db", root / "outbox", [tenant])
        with server.config.open("a", encoding="utf-8") as handle:
            web = {"secret_env": "WEB_SECRET", "address_limit": "600/minute", "public_url": url}
            handle.write("\n" + table("[web]", web))
        assert server.cli("sync", "--all") == 0
        engine = open_store(f"sqlite:///{root}/store.db")
        give_passwords(engine, load_settings(server.config))
        engine.dispose()
        server.start()
        try:
            yield server, provider
        finally:
            server.stop()


def test_sign_in_with_the_provider(
    sso_server: tuple[Server, OpenIdProvider], browser: WebDriver
) -> None:
    server, provider = sso_server
    browser.delete_all_cookies()
    browser.get(server.url + "/admin/acme/accounts")
    assert browser.current_url == server.url + "/admin/acme/login"
    assert "Sign in with Test IdP" in text_of(browser, "sso")
    provider.next_sign_in("user1")
    submit(browser, "sso")
    WebDriverWait(browser, 15).until(lambda d: d.current_url.endswith("/admin/acme/accounts"))
    assert text_of(browser, "signed-in").startswith("user1")
    nothing_blocked(browser)


def test_a_refusal_keeps_the_password_form(
    sso_server: tuple[Server, OpenIdProvider], browser: WebDriver
) -> None:
    server, provider = sso_server
    browser.delete_all_cookies()
    browser.get(server.url + "/admin/acme/login")
    provider.next_sign_in("user3")  # an account without a console privilege
    submit(browser, "sso")
    WebDriverWait(browser, 15).until(lambda d: "/admin/acme/oidc/callback" in d.current_url)
    assert "may not use this tenant's console" in text_of(browser, "problems")
    submit(browser, "signin", name="user1", password="Acme-Admin1")
    # a system_admin signing in with a password goes on to its second factor (SPEC §19);
    # single sign-on above did not: the provider's own stood in
    assert browser.current_url == server.url + "/admin/acme/mfa/enrol"
    assert text_of(browser, "signed-in").startswith("user1")
