"""The reset page over HTTP: a link sets a password once, under the policy, and every way a link
stops working gets its own page. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from sync.services.passwords import verify_password
from sync.store.schema import accounts
from sync.timeutil import utc_now
from tests.support.configs import person
from tests.web.conftest import Pages, form_value, path_of, submit


def stored_hash(pages: Pages, name: str) -> str | None:
    with pages.engine.connect() as conn:
        value: str | None = conn.execute(
            select(accounts.c.password_hash).where(accounts.c.name == name)
        ).scalar_one()
    return value


def test_a_link_sets_the_password_once(pages: Pages, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    link = pages.link("user1@example.com", "account_created")
    token = link.rpartition("token=")[2]
    client = pages.client()

    page = client.get(path_of(link))
    assert page.status_code == 200
    assert "user1" in page.text and "新しいパスワード" in page.text and "New password" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"

    mismatch = submit(client, link, "Secret-1", "Secret-2")
    assert mismatch.status_code == 400
    assert "The confirmation does not match the password." in mismatch.text
    same_as_name = submit(client, link, "USER1")
    assert same_as_name.status_code == 400
    assert "it must differ from the account name" in same_as_name.text
    assert pages.account("user1")["password_set"] is False

    done = submit(client, link, "correct horse")
    assert done.status_code == 303
    assert done.headers["location"] == "/password/done"
    assert "パスワードを設定しました" in client.get("/password/done").text
    assert pages.account("user1")["password_set"] is True
    digest = stored_hash(pages, "user1")
    assert digest is not None and verify_password(digest, "correct horse")

    again = client.get(path_of(link))
    assert again.status_code == 410
    assert 'data-reason="used"' in again.text and "already been used" in again.text
    assert verify_password(stored_hash(pages, "user1") or "", "correct horse")
    ours = [r for r in caplog.records if r.name.startswith(("sync", "uvicorn", "starlette"))]
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in ours)
    assert "GET /password/reset" in logged  # the access log saw the page...
    assert token not in logged  # ...and never the token


def test_an_administrator_password_meets_the_policy(pages: Pages) -> None:
    edit = pages.ws.cli("accounts", "edit", "--tenant", "acme", "user2", "--role", "operator")
    assert edit.code == 0, edit.err
    link = pages.link("user2@example.com", "account_created")
    client = pages.client()

    weak = submit(client, link, "abcdef")
    assert weak.status_code == 400
    assert "パスワードがポリシーを満たしていません" in weak.text
    assert "an upper-case letter" in weak.text and "a digit" in weak.text
    assert pages.account("user2")["password_set"] is False

    assert submit(client, link, "Abcde1").status_code == 303  # the weak tries left it usable
    assert pages.account("user2")["password_set"] is True


def test_expired_superseded_unknown_and_disabled_links(pages: Pages) -> None:
    first = pages.link("user1@example.com", "account_created")
    later = pages.client(pages.app(clock=lambda: utc_now() + timedelta(hours=73)))
    expired = later.get(path_of(first))
    assert expired.status_code == 410 and 'data-reason="expired"' in expired.text

    assert pages.ws.cli("accounts", "reset-password", "--tenant", "acme", "user1").code == 0
    client = pages.client()
    superseded = client.get(path_of(first))
    assert superseded.status_code == 410 and 'data-reason="superseded"' in superseded.text
    newer = pages.link("user1@example.com", "password_reset")
    assert newer != first and client.get(path_of(newer)).status_code == 200

    for query in ("?token=not-a-token", "?token=", "", "?other=" + newer.rpartition("=")[2]):
        unknown = client.get("/password/reset" + query)
        assert unknown.status_code == 404 and 'data-reason="unknown"' in unknown.text

    pages.ws.users([person(2), person(3)])  # user1 leaves the directory: disabled
    assert pages.ws.sync()["counts"]["disabled"] == 1
    disabled = client.get(path_of(newer))
    assert disabled.status_code == 410 and 'data-reason="disabled"' in disabled.text


def test_a_used_link_cannot_be_posted_twice(pages: Pages) -> None:
    """Two tabs: the form was loaded twice, the second submission finds the token used."""
    link = pages.link("user3@example.com", "account_created")
    client = pages.client()
    first_tab = client.get(path_of(link)).text
    second_tab = client.get(path_of(link)).text

    def post(page: str, password: str) -> int:
        data = {
            "csrf": form_value(page, "csrf"),
            "token": form_value(page, "token"),
            "password": password,
            "confirmation": password,
        }
        status: int = client.post("/password/reset", data=data).status_code
        return status

    assert post(first_tab, "first password") == 303
    assert post(second_tab, "second password") == 410
    assert verify_password(stored_hash(pages, "user3") or "", "first password")
