"""`accounts edit`, `set-password` and `reset-password` through the CLI, against the store and a
real SMTP server: each refusal is a clear message with exit 2 and changes nothing."""

from __future__ import annotations

import io
import json
import sys
import threading

import pytest
from sqlalchemy import select

from sync.services.passwords import verify_password
from sync.services.resets import TokenHolder, TokenRefused, check_token, redeem_token
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.store.schema import accounts, released_names
from sync.store.tokens import claim_token
from sync.timeutil import utc_now
from tests.mail.conftest import MailWorkspace, token_in
from tests.mail.smtp_server import SmtpServer
from tests.support.configs import person


def _refused(ws: MailWorkspace, *args: str, says: str) -> None:
    before = (ws.accounts(), len(ws.outbox_rows()))
    result = ws.admin(*args)
    assert result.code == 2 and says in result.err, (args, result)
    assert (ws.accounts(), len(ws.outbox_rows())) == before


def _stored_hash(ws: MailWorkspace, name: str) -> str | None:
    with ws.engine.connect() as conn:
        query = select(accounts.c.password_hash).where(accounts.c.name == name)
        stored: str | None = conn.execute(query).scalar_one()
        return stored


def test_rename_obeys_the_naming_rules_quarantines_and_locks(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    _refused(lite_ws, "edit", "user1", "--rename", "USER2", says="taken by user2")
    _refused(lite_ws, "edit", "user1", "--rename", "Root", says="Root (reserved)")
    _refused(lite_ws, "edit", "user1", "--rename", "bad name", says="not allowed by the name")
    _refused(lite_ws, "edit", "nobody", "--rename", "x", says="no account named 'nobody'")
    _refused(lite_ws, "edit", "user1", "--rename", "x", "--unlock-name", says="contradict")
    result = lite_ws.admin("edit", "user1", "--rename", "Ｂｏｓｓ")  # full-width, normalised
    assert result.code == 0 and "renamed user1 to Boss (name locked)" in result.out, result
    boss = lite_ws.accounts()["Boss"]
    assert boss["name_locked"] and "user1" not in lite_ws.accounts()
    _refused(lite_ws, "edit", "user2", "--rename", "user1", says="in quarantine")
    notice = server.sink.received[-1]
    assert notice.rcpt_tos == ["user1@example.com"]
    assert "旧: user1" in notice.text() and "New: Boss" in notice.text()
    with lite_ws.engine.connect() as conn:
        assert conn.execute(select(released_names.c.name)).scalars().all() == ["user1"]
    # a locked name survives syncs; unlocked, a changed composed name renames it again
    lite_ws.users([person(1, primary_email="taro@example.com"), *map(person, range(2, 6))])
    assert lite_ws.sync()["counts"]["renamed"] == 0 and "Boss" in lite_ws.accounts()
    assert lite_ws.admin("edit", "Boss", "--rename", "boss").code == 0  # case only: allowed
    _refused(lite_ws, "edit", "boss", "--rename", "boss", says="already has that name")
    assert lite_ws.admin("edit", "boss", "--unlock-name").code == 0
    assert lite_ws.sync()["counts"]["renamed"] == 1 and "taro" in lite_ws.accounts()


def test_an_edit_waits_for_the_tenants_sync(lite_ws: MailWorkspace) -> None:
    lite_ws.sync()
    with named_lock(lite_ws.engine, "tenant:acme") as held:  # as a running sync holds it
        assert held
        _refused(lite_ws, "edit", "user1", "--memo", "x", "--wait", "0.2", says="being synced")
    assert lite_ws.admin("edit", "user1", "--memo", "x", "--wait", "0").code == 0


def test_privilege_scheme_and_memo(lite_ws: MailWorkspace, server: SmtpServer) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    _refused(lite_ws, "edit", "user1", "--role", "custom_admin", says="--scheme NAME")
    _refused(lite_ws, "edit", "user1", "--role", "operator", "--scheme", "x", says="only for")
    _refused(lite_ws, "edit", "user1", "--memo", "a\x1b[2Jb", says="U+001B")
    _refused(lite_ws, "edit", "user1", "--memo", "a\u202eb", says="U+202E")
    _refused(lite_ws, "edit", "user1", says="nothing to change")
    assert lite_ws.admin("edit", "user1", "--role", "custom_admin", "--scheme", "Help").code == 0
    assert lite_ws.admin("edit", "user1", "--memo", "二行の\nメモ\tです").code == 0
    shown = lite_ws.show("user1")
    assert (shown["role"], shown["role_scheme"], shown["memo"]) == (
        "custom_admin",
        "Help",
        "二行の\nメモ\tです",
    )
    assert lite_ws.admin("edit", "user1", "--scheme", "Desk", "--memo", "").code == 0
    assert (lite_ws.show("user1")["role_scheme"], lite_ws.show("user1")["memo"]) == ("Desk", None)
    assert lite_ws.admin("edit", "user1", "--role", "system_admin").code == 0
    assert (lite_ws.show("user1")["role"], lite_ws.show("user1")["role_scheme"]) == (
        "system_admin",
        None,
    )


def _with_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_set_password_policy_and_argon2id(
    lite_ws: MailWorkspace, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    lite_ws.admin("edit", "user1", "--role", "operator")
    for weak, says in [
        ("abc\n", "at least 6 characters with an upper-case letter"),
        ("abcdef1\n", "it lacks an upper-case letter"),
        ("USER1\n", "must differ from the account name"),
        ("\n", "the password is empty"),
    ]:
        _with_stdin(monkeypatch, weak)
        _refused(lite_ws, "set-password", "user1", "--password-stdin", says=says)
        assert _stored_hash(lite_ws, "user1") is None
    _with_stdin(monkeypatch, "user2\n")  # a user without privilege: only "not the name"
    _refused(lite_ws, "set-password", "user2", "--password-stdin", says="differ from the account")
    _with_stdin(monkeypatch, "Abcdef1\r\n")
    assert lite_ws.admin("set-password", "user1", "--password-stdin").code == 0
    stored = _stored_hash(lite_ws, "user1")
    assert stored is not None and stored.startswith("$argon2id$")
    assert verify_password(stored, "Abcdef1") and not verify_password(stored, "Abcdef1\r")
    result = lite_ws.admin("set-password", "user1")  # stdin is no terminal here
    assert result.code == 2 and "--password-stdin" in result.err
    # `accounts show` says a password is set, never the hash or a token
    shown = lite_ws.cli("accounts", "show", "--tenant", "acme", "user1", "--json").out
    text = lite_ws.cli("accounts", "show", "--tenant", "acme", "user1").out
    assert json.loads(shown)["password_set"] is True
    token = token_in(server.sink.received[0])
    for output in (shown, text, lite_ws.cli("accounts", "list", "--tenant", "acme").out):
        assert "$argon2" not in output and token not in output and "hash" not in output


def test_setting_a_password_ends_outstanding_links(
    lite_ws: MailWorkspace, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    token = token_in(next(r for r in server.sink.received if r.rcpt_tos == ["user3@example.com"]))
    _with_stdin(monkeypatch, "a quiet password\n")
    assert lite_ws.admin("set-password", "user3", "--password-stdin").code == 0
    with lite_ws.engine.connect() as conn:
        assert check_token(conn, token, utc_now()) == TokenRefused("superseded")


def test_federated_accounts_have_no_clomo_password(
    lite_ws: MailWorkspace, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lite_ws.use(server)
    lite_ws.configure(auth_type="google", reset_url=None)
    lite_ws.sync()
    _with_stdin(monkeypatch, "Abcdef1\n")
    _refused(lite_ws, "set-password", "user1", "--password-stdin", says="signs in with google")
    _refused(lite_ws, "reset-password", "user1", says="signs in with google")
    assert lite_ws.admin("edit", "user1", "--rename", "taro").code == 0
    assert server.sink.received == []  # no account_renamed for a federated account either


def test_reset_goes_only_to_an_address_of_the_account(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    lite_ws.users([person(1, emails="t.yamada@example.org;user1@example.com"), person(2)])
    lite_ws.use(server)
    lite_ws.sync()
    _refused(lite_ws, "reset-password", "user1", "--email", "user2@example.com", says="not an")
    _refused(lite_ws, "reset-password", "ghost", says="no account named 'ghost'")
    result = lite_ws.admin("reset-password", "user1", "--email", "T.Yamada@example.org")
    assert result.code == 0 and "to t.yamada@example.org: sent" in result.out, result
    reset = server.sink.received[-1]
    assert reset.rcpt_tos == ["t.yamada@example.org"]
    assert "Reset your CLOMO password" in str(reset.message["Subject"])
    with lite_ws.engine.connect() as conn:
        assert isinstance(check_token(conn, token_in(reset), utc_now()), TokenHolder)


def test_a_disabled_accounts_links_stop_working(lite_ws: MailWorkspace, server: SmtpServer) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    token = token_in(next(r for r in server.sink.received if r.rcpt_tos == ["user2@example.com"]))
    lite_ws.users([person(n, active="false" if n == 2 else "true") for n in range(1, 6)])
    assert lite_ws.sync()["counts"]["disabled"] == 1
    with writing(lite_ws.engine) as conn:
        assert check_token(conn, token, utc_now()) == TokenRefused("disabled")
        assert redeem_token(conn, token, "Abcdef1", utc_now()) == TokenRefused("disabled")
    _refused(lite_ws, "reset-password", "user2", says="is disabled")


def test_a_token_is_redeemed_once_even_by_racing_requests(
    mail_ws: MailWorkspace, server: SmtpServer
) -> None:
    mail_ws.use(server)
    mail_ws.sync()
    first, second = (token_in(r) for r in server.sink.received[:2])
    now = utc_now()
    # checked valid, then redeemed by someone else: the conditional claim finds it used
    with mail_ws.engine.connect() as conn:
        holder = check_token(conn, first, now)
    assert isinstance(holder, TokenHolder)
    with writing(mail_ws.engine) as conn:
        assert isinstance(redeem_token(conn, first, "Winner-pass1", now), TokenHolder)
    with writing(mail_ws.engine) as conn:
        assert claim_token(conn, holder.token_id, now) is False
    # two threads at once: exactly one wins
    barrier, outcomes = threading.Barrier(2), []

    def redeem(password: str) -> None:
        barrier.wait()
        with writing(mail_ws.engine) as conn:
            outcomes.append(type(redeem_token(conn, second, password, utc_now())).__name__)

    threads = [threading.Thread(target=redeem, args=(f"Racer-pass{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["TokenHolder", "TokenRefused"]
