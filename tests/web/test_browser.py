"""The whole flow in headless Chromium (Debian's `chromium` and `chromium-driver`): a sync
creates accounts, their emails arrive at a real SMTP server, the browser opens the link from the
email, meets the policy, sets a password; the account then reports `password_set` and the same
link says it was used. The forgot-password pages are driven the same way. The web app runs as
`clomo-sync web` in a subprocess, as in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, select

from sync.entry.cli import run as run_cli
from sync.services.passwords import verify_password
from sync.store.schema import accounts
from tests.support.configs import person, table, write_config, write_users
from tests.web.mailbox import Mailbox, SmtpServer, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "browser-test-secret-" + "s" * 32
STARTUP_SECONDS = 20
BUTTON_BLUE = "rgba(11, 107, 203, 1)"  # web.css: the stylesheet loaded under the page's CSP


@dataclass
class Site:
    root: Path
    config: Path
    url: str
    log: Path
    mailbox: Mailbox

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> str:
        capsys.readouterr()
        code = run_cli(["--config", str(self.config), *args])
        out = capsys.readouterr().out
        assert code == 0, out
        return out

    def account(self, capsys: pytest.CaptureFixture[str], name: str) -> dict[str, object]:
        shown: dict[str, object] = json.loads(
            self.cli(capsys, "accounts", "show", "--tenant", "acme", name, "--json")
        )
        return shown

    def password_is(self, name: str, password: str) -> bool:
        engine = create_engine(f"sqlite:///{self.root}/store.db")
        with engine.connect() as conn:
            digest = conn.execute(
                select(accounts.c.password_hash).where(accounts.c.name == name)
            ).scalar_one()
        engine.dispose()
        return digest is not None and verify_password(digest, password)

    def server_log(self) -> str:
        return self.log.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """SMTP server, configuration, the first sync (its emails go to the SMTP server), and
    `clomo-sync web` serving the tenant's reset_url."""
    root = tmp_path_factory.mktemp("browser")
    users = [person(1), person(2, emails="user2@example.com;second.two@example.org")]
    write_users(root / "users.csv", users)
    port = free_port()
    with SmtpServer() as smtp:
        config = write_config(
            root / "clomo-sync.toml",
            f"sqlite:///{root}/store.db",
            root / "outbox",
            [
                {
                    "id": "acme",
                    "account_name_source": "email_local_part",
                    "reset_url": f"http://127.0.0.1:{port}/password/reset?token={{token}}",
                    "source": {"kind": "csv", "path": str(root / "users.csv")},
                }
            ],
            mail={"delivery": "smtp", "smtp_port": smtp.port, "timeout_seconds": 5},
        )
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + table("[web]", {"secret_env": "WEB_SECRET"}))
        assert run_cli(["--config", str(config), "sync", "--all"]) == 0
        log = root / "web.log"
        with log.open("w", encoding="utf-8") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "sync", "--config", str(config), "web", "--port", str(port)],
                cwd=ROOT,
                env={**os.environ, "WEB_SECRET": SECRET},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_serving(server, log)
            yield Site(root, config, f"http://127.0.0.1:{port}", log, smtp.mailbox)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_until_serving(server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while "serving the password pages" not in log.read_text(encoding="utf-8"):
        assert server.poll() is None, f"clomo-sync web exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"clomo-sync web did not start: {log.read_text()}"
        time.sleep(0.05)


def submit(driver: WebDriver, button: str, **fields: str) -> None:
    """Types into the fields, clicks the button and waits for the next page."""
    for field, value in fields.items():
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button).click()
    # mid-navigation chromedriver may answer "node does not belong to the document" rather
    # than "stale element": that too means the old page is going, so poll again
    wait = WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))
    wait.until(expected_conditions.staleness_of(page))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def text_of(driver: WebDriver, element_id: str) -> str:
    located = expected_conditions.presence_of_element_located((By.ID, element_id))
    return str(WebDriverWait(driver, 10).until(located).text)


def nothing_blocked(driver: WebDriver) -> None:
    """The browser blocked nothing under the pages' CSP and loaded every resource (the 4xx
    answers it also reports are the pages' own statuses: 400 for a refused password, 410 for
    a used link)."""
    logs: list[dict[str, str]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [e["message"] for e in logs if e["level"] == "SEVERE"]
    blocked = [m for m in errors if "Content Security Policy" in m or "Refused to" in m]
    missing = [m for m in errors if "/static/" in m or "favicon" in m]
    assert (blocked, missing) == ([], [])


def test_the_link_from_the_email_sets_the_password_once(
    site: Site, browser: WebDriver, capsys: pytest.CaptureFixture[str]
) -> None:
    link = site.mailbox.link_to("user1@example.com")  # sent by the sync, received by SMTP
    assert link.startswith(site.url + "/password/reset?token=")
    site.cli(capsys, "accounts", "edit", "--tenant", "acme", "user1", "--role", "system_admin")

    browser.get(link)
    assert text_of(browser, "account-name") == "user1"
    button = browser.find_element(By.ID, "set")
    assert button.value_of_css_property("background-color") == BUTTON_BLUE
    browser.save_screenshot(str(site.root / "reset.png"))

    submit(browser, "set", password="abcdef", confirmation="abcdef")
    problems = text_of(browser, "problems")
    assert "パスワードがポリシーを満たしていません" in problems
    assert "an upper-case letter" in problems and "a digit" in problems
    browser.save_screenshot(str(site.root / "weak.png"))

    submit(browser, "set", password="Sakura2026", confirmation="Sakura2025")
    assert "The confirmation does not match the password." in text_of(browser, "problems")
    assert site.account(capsys, "user1")["password_set"] is False

    submit(browser, "set", password="Sakura2026", confirmation="Sakura2026")
    assert browser.current_url == site.url + "/password/done"
    assert "パスワードを設定しました" in text_of(browser, "done")
    assert site.account(capsys, "user1")["password_set"] is True
    assert site.password_is("user1", "Sakura2026")

    browser.get(link)
    refused = browser.find_element(By.ID, "refused")
    assert refused.get_attribute("data-reason") == "used"
    assert "already been used" in refused.text
    nothing_blocked(browser)
    log = site.server_log()
    assert '"GET /password/reset" 200' in log and '"POST /password/reset" 303' in log
    assert link.rpartition("token=")[2] not in log


def test_forgot_password_sends_a_link_to_the_chosen_address(
    site: Site, browser: WebDriver, capsys: pytest.CaptureFixture[str]
) -> None:
    browser.get(site.url + "/password/forgot")
    submit(browser, "next", tenant="acme", account="nobody")
    assert "Account not found" in text_of(browser, "unknown")

    browser.get(site.url + "/password/forgot")
    submit(browser, "next", tenant="acme", account="user2")
    shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".address")]
    assert shown == ["u***@example.com", "s***@example.org"]
    assert "second.two" not in browser.page_source
    browser.save_screenshot(str(site.root / "choose.png"))

    already = len(site.mailbox.to("second.two@example.org"))
    browser.find_elements(By.CSS_SELECTOR, "input[name=address]")[1].click()
    submit(browser, "send")
    assert "s***@example.org" in text_of(browser, "sent")
    assert "Link sent" in text_of(browser, "sent")

    link = site.mailbox.link_to("second.two@example.org", seen=already)
    browser.get(link)
    assert text_of(browser, "account-name") == "user2"
    submit(browser, "set", password="a long pass phrase", confirmation="a long pass phrase")
    assert "Your password is set" in text_of(browser, "done")
    assert site.account(capsys, "user2")["password_set"] is True

    browser.get(link)
    assert browser.find_element(By.ID, "refused").get_attribute("data-reason") == "used"
    nothing_blocked(browser)
    assert link.rpartition("token=")[2] not in site.server_log()
