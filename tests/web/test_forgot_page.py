"""The forgot-password pages over HTTP: the account's addresses are shown masked, the chosen one
gets the link at once, and nothing tells an unknown account from one that cannot be reset."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sync.mail.queue import message_domain
from sync.model.actor import Actor
from sync.services.resets import request_reset
from sync.store.schema import outbox
from sync.timeutil import utc_now
from tests.support.configs import person
from tests.web.conftest import Pages, ask_for_link, choose, form_value, path_of, submit


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these pages add nothing store-specific (the reset page's tests run on
    PostgreSQL too), and a fresh PostgreSQL database per test costs a second and a half."""
    return f"sqlite:///{tmp_path}/store.db"


def test_the_chosen_address_gets_a_link_at_once(pages: Pages) -> None:
    # a message for someone else waits in the outbox: the page must send only its own
    settings = pages.settings
    tenant = settings.tenant("acme")
    with pages.engine.begin() as conn:
        request_reset(
            conn,
            tenant,
            "user3",
            None,
            now=utc_now(),
            domain=message_domain(settings, tenant),
            actor=Actor.admin("tester"),
        )
    client = pages.client()

    listed = ask_for_link(client, " ACME ", "User2")  # as a person may type them
    assert listed.status_code == 200
    assert "u***@example.com" in listed.text and "s***@example.org" in listed.text
    assert "user2@example.com" not in listed.text and "second.two" not in listed.text

    sent = choose(client, listed, "1")
    assert sent.status_code == 200
    assert 'id="sent"' in sent.text and "s***@example.org" in sent.text
    assert "second.two" not in sent.text
    assert pages.outbox()[-2:] == [
        ("password_reset", "user3@example.com", "pending"),
        ("password_reset", "second.two@example.org", "sent"),
    ]

    link = pages.link("second.two@example.org", "password_reset")
    assert submit(client, link, "a new password").status_code == 303
    assert pages.account("user2")["password_set"] is True
    assert client.get(path_of(link)).status_code == 410


def test_every_account_that_cannot_be_reset_gets_the_same_page(pages: Pages) -> None:
    pages.ws.users([person(1), person(2)])  # user3 leaves: disabled
    pages.ws.sync()
    before = pages.outbox()
    client = pages.client()
    answers = [
        ask_for_link(client, tenant, account)
        for tenant, account in [
            ("nowhere", "user1"),  # unknown tenant
            ("acme", "nobody"),  # unknown account
            ("acme", "user3"),  # disabled
            ("acme", ""),
            ("acme", "x" * 300),
        ]
    ]
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.text for answer in answers}) == 1
    assert "アカウントが見つかりません" in answers[0].text
    assert "Account not found" in answers[0].text
    assert pages.outbox() == before


def test_names_typed_in_full_width_find_the_account(pages: Pages) -> None:
    client = pages.client()
    listed = ask_for_link(client, "ＡＣＭＥ", "ｕｓｅｒ２")  # an IME left on
    assert listed.status_code == 200
    assert "u***@example.com" in listed.text and "s***@example.org" in listed.text
    assert choose(client, listed, "0").status_code == 200
    assert pages.outbox()[-1:] == [("password_reset", "user2@example.com", "sent")]


def test_the_choice_is_checked(pages: Pages) -> None:
    client = pages.client()
    listed = ask_for_link(client, "acme", "user2")
    before = pages.outbox()

    for index in ("2", "-1", "one", ""):
        assert choose(client, listed, index).status_code == 400
    lookup = form_value(listed.text, "lookup")
    data = {"csrf": form_value(listed.text, "csrf"), "address": "0"}
    tampered = client.post("/password/forgot/send", data={**data, "lookup": lookup[:-2] + "xx"})
    assert tampered.status_code == 403
    other_app = pages.client(pages.app(secret="another-secret-" + "y" * 40))
    foreign = ask_for_link(other_app, "acme", "user2")
    mixed = client.post(
        "/password/forgot/send", data={**data, "lookup": form_value(foreign.text, "lookup")}
    )
    assert mixed.status_code == 403

    # the directory changes the addresses while the list is on screen: ask again
    pages.ws.users([person(1), person(2, emails="third@example.net"), person(3)])
    pages.ws.sync()
    assert choose(client, listed, "1").status_code == 403
    assert pages.outbox() == before
    again = ask_for_link(client, "acme", "user2")
    assert "t***@example.net" in again.text and "s***@example.org" not in again.text


def test_the_link_waits_when_the_mail_server_is_down(pages: Pages) -> None:
    pages.ws.configure()  # the same tenant, now sending by SMTP to a port nobody listens on
    text = pages.ws.config.read_text()
    pages.ws.config.write_text(
        text.replace('delivery = "file"', 'delivery = "smtp"\nsmtp_port = 9\ntimeout_seconds = 2')
    )
    client = pages.client()
    sent = choose(client, ask_for_link(client, "acme", "user1"), "0")
    assert sent.status_code == 200
    assert "The link will be sent shortly" in sent.text
    with pages.engine.connect() as conn:
        row = conn.execute(select(outbox).order_by(outbox.c.id.desc()).limit(1)).one()
    # a down server spends no attempt (docs/accounts_and_email.md)
    assert (row.kind, row.status, row.attempts) == ("password_reset", "pending", 0)
    assert row.token is not None  # kept for the retry
