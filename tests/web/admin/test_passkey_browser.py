"""Passkeys in Debian's Chromium against `clomo-sync web` in a subprocess (SPEC §19): the
DevTools protocol's virtual authenticator stands in for a platform authenticator (internal,
resident keys, user verification). A system_admin signs in, enrols a passkey, keeps the
recovery codes, signs out, and signs in again with the passkey; without it, nothing signs in.
WebAuthn needs a secure context: the console is opened as http://localhost:PORT, so the
relying party id is `localhost`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from sync.config.settings import load_settings
from sync.store.engine import open_store
from sync.store.schema import account_events, console_factors
from tests.support.configs import person, write_users
from tests.web.admin.conftest import give_passwords
from tests.web.admin.test_console_browser import Server
from tests.web.mailbox import free_port
from tests.web.test_browser import nothing_blocked, submit, text_of

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("passkeys")
    write_users(root / "users.csv", [person(n) for n in range(1, 4)])
    port = free_port()
    shots = root / "screenshots"
    shots.mkdir()
    server = Server(root, root / "clomo-sync.toml", f"http://localhost:{port}", port, shots)
    server.write(
        id="acme",
        account_name_source="email_local_part",
        reset_url=f"http://localhost:{port}/password/reset?token={{token}}",
        source={"kind": "csv", "path": str(root / "users.csv")},
    )  # require_mfa_for: the default, system_admin
    assert server.cli("sync", "--all") == 0
    engine = open_store(f"sqlite:///{root}/store.db")
    give_passwords(engine, load_settings(server.config))
    engine.dispose()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def authenticator(browser: WebDriver) -> Iterator[str]:
    browser.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    added = browser.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    try:
        yield str(added["authenticatorId"])
    finally:
        browser.execute_cdp_cmd(
            "WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]}
        )
        browser.execute_cdp_cmd("WebAuthn.disable", {})


def passkeys_of(root: Path) -> list[dict[str, object]]:
    engine = open_store(f"sqlite:///{root}/store.db")
    with engine.connect() as conn:
        rows = conn.execute(select(console_factors).where(console_factors.c.kind == "passkey"))
        found = [dict(r._mapping) for r in rows]
    engine.dispose()
    return found


def events_of(root: Path) -> list[dict[str, Any]]:
    """The audit's second-factor events, oldest first."""
    engine = open_store(f"sqlite:///{root}/store.db")
    with engine.connect() as conn:
        rows = conn.execute(
            select(account_events.c.action, account_events.c.fields)
            .where(account_events.c.action.like("mfa_%"))
            .order_by(account_events.c.id)
        )
        found = [dict(r._mapping) for r in rows]
    engine.dispose()
    return found


def test_enrol_a_passkey_and_sign_in_with_it(
    server: Server, browser: WebDriver, authenticator: str
) -> None:
    browser.delete_all_cookies()
    browser.get(server.url + "/admin/acme/login")
    submit(browser, "signin", name="user1", password="Acme-Admin1")
    assert browser.current_url == server.url + "/admin/acme/mfa/enrol"
    submit(browser, "enrol-passkey")  # the script's ceremony, then the form is posted
    codes = text_of(browser, "recovery-codes").split()
    assert len(codes) == 10, browser.page_source
    nothing_blocked(browser)
    enrolled = passkeys_of(server.root)
    assert len(enrolled) == 1 and enrolled[0]["confirmed_at"] is not None
    credentials = browser.execute_cdp_cmd(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator}
    )["credentials"]
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"

    submit(browser, "continue")
    assert browser.current_url == server.url + "/admin/acme/accounts"
    submit(browser, "signout")
    submit(browser, "signin", name="user1", password="Acme-Admin1")
    assert browser.current_url == server.url + "/admin/acme/mfa"
    submit(browser, "use-passkey")
    assert browser.current_url == server.url + "/admin/acme/accounts", browser.page_source
    nothing_blocked(browser)
    used = passkeys_of(server.root)[0]
    assert used["used_at"] is not None

    audited = [(e["action"], json.loads(e["fields"])["factor"][1]) for e in events_of(server.root)]
    assert ("mfa_enrolled", "passkey") in audited and ("mfa_verified", "passkey") in audited

    # an authenticator without the credential: the ceremony fails, nothing signs in
    browser.execute_cdp_cmd("WebAuthn.clearCredentials", {"authenticatorId": authenticator})
    before = events_of(server.root)
    submit(browser, "signout")
    submit(browser, "signin", name="user1", password="Acme-Admin1")
    browser.find_element(By.ID, "use-passkey").click()
    shown = expected_conditions.visibility_of_element_located((By.ID, "passkey-problem"))
    assert "passkey" in WebDriverWait(browser, 10).until(shown).text
    browser.get(server.url + "/admin/acme/accounts")
    assert browser.current_url == server.url + "/admin/acme/mfa"
    assert events_of(server.root) == before  # nothing was posted
