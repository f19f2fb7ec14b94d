"""The console end to end in headless Chromium, against `clomo-sync web` in a subprocess: sign
in, change the naming rule and see the preview's count, confirm and meet the read-only refusal,
edit an account, resync, then approve the renames a changed rule in the configuration file held
back. Each screen is saved as a PNG in the folder the test prints."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sync.config.settings import load_settings
from sync.entry.cli import run as run_cli
from sync.store.engine import open_store
from tests.support.configs import person, table, write_config, write_users
from tests.web.admin.conftest import give_passwords
from tests.web.mailbox import free_port
from tests.web.test_browser import nothing_blocked, submit, text_of

ROOT = Path(__file__).resolve().parents[3]
SECRET = "console-browser-secret-" + "c" * 32
WIDTH = 1000


@dataclass
class Server:
    root: Path
    config: Path
    url: str
    port: int
    shots: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    tenant: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        self.starts += 1
        log = self.root / "web.log"
        with log.open("a", encoding="utf-8") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sync",
                    "--config",
                    str(self.config),
                    "web",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env={**os.environ, "WEB_SECRET": SECRET},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while log.read_text(encoding="utf-8").count("serving the password pages") < self.starts:
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """A file-provisioned tenant's settings are read when the server starts."""
        self.stop()
        self.start()

    def write(self, **changes: Any) -> None:
        self.tenant.update(changes)
        write_config(self.config, f"sqlite:///{self.root}/store.db", self.root / "outbox",
                     [self.tenant])  # fmt: skip
        with self.config.open("a", encoding="utf-8") as handle:
            web = {"secret_env": "WEB_SECRET", "address_limit": "600/minute"}
            handle.write("\n" + table("[web]", web))

    def cli(self, *args: str) -> int:
        return run_cli(["--config", str(self.config), *args])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("console")
    write_users(root / "users.csv", [person(n) for n in range(1, 6)])
    port = free_port()
    shots = root / "screenshots"
    shots.mkdir()
    print(f"\nconsole screenshots in {shots}")
    server = Server(root, root / "clomo-sync.toml", f"http://127.0.0.1:{port}", port, shots)
    server.write(
        id="acme",
        account_name_source="email_local_part",
        reset_url=f"http://127.0.0.1:{port}/password/reset?token={{token}}",
        source={"kind": "csv", "path": str(root / "users.csv")},
        console={"require_mfa_for": []},  # the second factor has its own browser test
    )
    assert server.cli("sync", "--all") == 0
    engine = open_store(f"sqlite:///{root}/store.db")
    give_passwords(engine, load_settings(server.config))
    engine.dispose()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shoot(driver: WebDriver, server: Server, name: str) -> None:
    """The whole page, WIDTH pixels wide and as tall as its content."""
    driver.set_window_size(WIDTH, 600)
    bottom = driver.execute_script(
        "return document.querySelector('main').getBoundingClientRect().bottom + window.scrollY"
        " + window.outerHeight - window.innerHeight"
    )
    driver.set_window_size(WIDTH, max(600, min(int(bottom) + 40, 2400)))
    driver.save_screenshot(str(server.shots / f"{name}.png"))


def click(driver: WebDriver, element_id: str) -> None:
    submit(driver, element_id)


def test_sign_in_and_preview_a_new_naming_rule(server: Server, browser: WebDriver) -> None:
    browser.set_window_size(WIDTH, 900)
    browser.delete_all_cookies()
    browser.get(server.url + "/admin/acme/settings")
    assert browser.current_url == server.url + "/admin/acme/login"
    submit(browser, "signin", name="user1", password="not-the-password")
    assert "The account name or the password is not correct." in text_of(browser, "problems")
    shoot(browser, server, "01-login")
    submit(browser, "signin", name="user1", password="Acme-Admin1")
    assert browser.current_url == server.url + "/admin/acme/accounts"
    assert len(browser.find_elements(By.CSS_SELECTOR, "a.account")) == 5
    shoot(browser, server, "02-accounts")

    browser.find_element(By.ID, "nav-settings").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "read-only"))
    assert browser.find_element(By.ID, "source-email_local_part").is_selected()
    shoot(browser, server, "03-settings")
    browser.find_element(By.ID, "source-custom").click()
    submit(browser, "preview", custom_template="{family_name}.{given_name}")
    assert text_of(browser, "count-renames") == "5"
    assert text_of(browser, "count-conflicts") == "0"
    renames = browser.find_element(By.ID, "renames").text
    assert "user1" in renames and "Family1.Given1" in renames
    assert browser.find_element(By.ID, "guard").get_attribute("data-holds") == "no"
    shoot(browser, server, "04-preview")
    click(browser, "confirm")
    refused = text_of(browser, "refused")
    assert "provisioned from the configuration file" in refused
    shoot(browser, server, "05-settings-refused")
    nothing_blocked(browser)


def test_edit_an_account_and_resync(server: Server, browser: WebDriver) -> None:
    browser.get(server.url + "/admin/acme/accounts?q=user3")
    links = browser.find_elements(By.CSS_SELECTOR, "a.account")
    assert [a.text for a in links] == ["user3"]
    links[0].click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "memo"))
    browser.find_element(By.CSS_SELECTOR, "#role option[value=operator]").click()
    submit(browser, "save", memo="大阪支社へ異動 / moved to Osaka", password="Kaede2026",
           password_confirm="Kaede2026")  # fmt: skip
    said = text_of(browser, "said")
    assert "privilege operator" in said and "memo set" in said and "password set" in said
    history = browser.find_element(By.ID, "history").text
    assert "admin:user1" in history and "password_set" in history
    shoot(browser, server, "06-account")

    browser.find_element(By.ID, "nav-runs").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "resync"))
    before = len(browser.find_elements(By.CSS_SELECTOR, "a.run"))
    click(browser, "resync")
    assert "A run has started" in text_of(browser, "resync-started")
    deadline = time.monotonic() + 30
    while len(browser.find_elements(By.CSS_SELECTOR, "a.run")) == before:
        assert time.monotonic() < deadline, "the resync did not finish"
        time.sleep(0.3)
        browser.get(server.url + "/admin/acme/runs")
    shoot(browser, server, "07-runs")
    browser.find_elements(By.CSS_SELECTOR, "a.run")[0].click()
    assert text_of(browser, "run-status") == "succeeded"
    shoot(browser, server, "08-run")
    nothing_blocked(browser)


def test_approve_the_renames_a_changed_rule_held_back(server: Server, browser: WebDriver) -> None:
    server.write(account_name_source="employee_code", max_rename=2)
    assert server.cli("sync", "--all") == 3  # blocked: five renames, two allowed
    browser.get(server.url + "/admin/acme/changes")
    if browser.current_url == server.url + "/admin/acme/login":  # this test alone
        submit(browser, "signin", name="user1", password="Acme-Admin1")
    server.restart()
    browser.get(server.url + "/admin/acme/changes")  # a restart signs nobody out (SPEC §15)
    assert browser.current_url == server.url + "/admin/acme/changes"
    sets = browser.find_elements(By.CSS_SELECTOR, "a.change-set")
    assert [s.get_attribute("data-kind") for s in sets] == ["rename"]
    shoot(browser, server, "09-changes")
    sets[0].click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "approve"))
    held = browser.find_element(By.ID, "held").text
    assert "user2" in held and "E00002" in held
    shoot(browser, server, "10-change")
    click(browser, "approve")
    assert "approved" in text_of(browser, "approved")
    assert text_of(browser, "run-status") == "succeeded"
    shoot(browser, server, "11-approved")
    browser.get(server.url + "/admin/acme/accounts")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.account")]
    assert names == [f"E0000{n}" for n in range(1, 6)]
    nothing_blocked(browser)
