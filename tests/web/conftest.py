"""Fixtures for the password pages: a CSV tenant synced through the CLI, its emails read back
(as `.eml` files, or from a real SMTP server), and the app built from its configuration."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from httpx import Response
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from sqlalchemy import Engine, select
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from sync.config.settings import Settings, WebSettings, load_settings
from sync.entry.web.app import create_app
from sync.store.engine import open_store
from sync.store.schema import outbox
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.support.configs import person

SECRET = "test-secret-" + "x" * 40
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
RESET_URL = "https://panel.example.com/password/reset?token={token}"
LINK = re.compile(r"https?://[^\s\"<>]+token=[A-Za-z0-9_\-]+")


def parse_email(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def link_in(message: EmailMessage) -> str:
    """The one reset link of the message's plain-text body."""
    body = message.get_body(("plain",))
    assert body is not None
    links: set[str] = set(LINK.findall(str(body.get_content())))  # type: ignore[attr-defined]
    assert len(links) == 1, links
    return links.pop()


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name} in the page"
    return match.group(1)


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def submit(
    client: TestClient, link: str, password: str, confirmation: str | None = None
) -> Response:
    """Opens the link and posts the form on it."""
    page = client.get(path_of(link))
    assert page.status_code == 200, page.text
    posted: Response = client.post(
        urlsplit(link).path,
        data={
            "csrf": form_value(page.text, "csrf"),
            "token": form_value(page.text, "token"),
            "password": password,
            "confirmation": password if confirmation is None else confirmation,
        },
    )
    return posted


def ask_for_link(client: TestClient, tenant: str, account: str) -> Response:
    """The forgot-password form, filled in and posted."""
    form = client.get("/password/forgot")
    assert form.status_code == 200, form.text
    data = {"csrf": form_value(form.text, "csrf"), "tenant": tenant, "account": account}
    posted: Response = client.post("/password/forgot", data=data)
    return posted


def choose(client: TestClient, page: Response, index: str) -> Response:
    """Picks an address on the page that lists them."""
    data = {
        "csrf": form_value(page.text, "csrf"),
        "lookup": form_value(page.text, "lookup"),
        "address": index,
    }
    posted: Response = client.post("/password/forgot/send", data=data)
    return posted


@dataclass
class Pages:
    """The app over a synced workspace; emails are `.eml` files in the workspace's outbox."""

    ws: Workspace
    engine: Engine

    @property
    def settings(self) -> Settings:
        return load_settings(self.ws.config)

    def app(
        self,
        clock: Callable[[], datetime] = utc_now,
        secret: str = SECRET,
        **web: Any,
    ) -> ASGIApp:
        settings = self.settings
        if web:
            settings = settings.model_copy(update={"web": WebSettings(**web)})
        return create_app(settings, self.engine, clock=clock, secret=secret)

    def client(
        self, app: ASGIApp | None = None, address: str = "127.0.0.1", https: bool = False
    ) -> TestClient:
        return TestClient(
            app or self.app(),
            base_url="https://testserver" if https else "http://testserver",
            client=(address, 50000),
            follow_redirects=False,
        )

    def link(self, to: str, kind: str) -> str:
        """The link of the newest email of `kind` queued to `to`, read from the delivered file."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(outbox.c.message_id, outbox.c.status)
                .where(outbox.c.to_address == to, outbox.c.kind == kind)
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).one()
        assert row.status == "sent"
        return link_in(self.emails()[row.message_id])

    def outbox(self) -> list[tuple[str, str, str]]:
        """(kind, to, status) of every queued email, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.kind, outbox.c.to_address, outbox.c.status).order_by(outbox.c.id)
            )
            return [(r.kind, r.to_address, r.status) for r in rows]

    def emails(self) -> dict[str, EmailMessage]:
        messages = [parse_email(path.read_bytes()) for path in self.ws.emails()]
        return {str(m["Message-ID"]): m for m in messages}

    def account(self, name: str) -> dict[str, Any]:
        result = self.ws.cli("accounts", "show", "--tenant", "acme", name, "--json")
        assert result.code == 0, result.err
        account: dict[str, Any] = json.loads(result.out)
        return account


@pytest.fixture
def pages(workspace: Workspace) -> Iterator[Pages]:
    """Three password accounts of tenant acme (user2 has a second address), synced."""
    workspace.users(
        [
            person(1),
            person(2, emails="user2@example.com;second.two@example.org"),
            person(3),
        ]
    )
    workspace.configure(reset_url=RESET_URL)
    assert workspace.sync()["status"] == "succeeded"
    engine = open_store(workspace.database_url)
    yield Pages(workspace, engine)
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """Debian's Chromium through Debian's chromedriver; given both paths, Selenium Manager is
    never asked to find or download anything. One browser for every browser test (the password
    pages' and the console's): starting Chromium is the slow part."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=900,900",
    ):
        options.add_argument(argument)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option(
        "prefs", {"credentials_enable_service": False, "profile.password_manager_enabled": False}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
