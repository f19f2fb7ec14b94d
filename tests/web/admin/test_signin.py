"""Signing in: who may, what a failure says (the same for every reason), rate limits and
lockout, session cookies, expiry and signing out."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from httpx import Response

from sync.model.actor import Actor
from sync.services.accounts import Edit, edit_account
from sync.store.engine import writing
from sync.timeutil import utc_now
from tests.support.configs import person
from tests.web.admin.conftest import Console, csrf_of
from tests.web.conftest import form_value

FAILED = "The account name or the password is not correct."


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: sign-in reads one row by the store functions tested on both stores elsewhere."""
    return f"sqlite:///{tmp_path}/store.db"


def test_an_administrator_signs_in_with_a_strict_httponly_cookie(console: Console) -> None:
    client = console.client()
    page = client.get("/admin/acme/login")
    assert page.status_code == 200
    assert 'name="name"' in page.text and 'name="password"' in page.text
    answer = console.sign_in(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/acme/accounts"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("clomo_admin=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    accounts = client.get("/admin/acme/accounts")
    assert accounts.status_code == 200
    assert 'data-role="system_admin"' in accounts.text

    secure = console.client(https=True)
    answer = console.sign_in(secure)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-clomo_admin=") and "Secure" in cookie
    assert answer.headers["strict-transport-security"]


def _disable_and_strip(console: Console) -> None:
    """user4: a system_admin without a password; user5: a system_admin, disabled."""
    tenant = console.pages.settings.tenant("acme")
    with writing(console.pages.engine) as conn:
        for name in ("user4", "user5"):
            edit_account(conn, tenant, name, Edit(role="system_admin"), now=utc_now(),
                         domain="example.com", actor=Actor("setup"))  # fmt: skip
    ws = console.pages.ws
    ws.users([person(n) for n in range(1, 5)] + [person(5, active="false")])
    assert ws.sync()["counts"]["disabled"] == 1


def test_every_failure_gets_the_same_answer(console: Console) -> None:
    _disable_and_strip(console)
    answers = []
    for name, password in [
        ("nobody", "Whatever1"),  # no such account
        ("user1", "Wrong-Pass1"),  # wrong password
        ("user3", "Acme-None3"),  # right password, no console privilege
        ("user4", "Anything1"),  # an administrator without a password
        ("user5", "Anything1"),  # disabled
        ("user1", "Beta-Admin1"),  # another tenant's password
        ("", ""),
    ]:
        client = console.client()
        answer = console.sign_in(client, "acme", name, password) if name else _empty(console)
        assert answer.status_code == 401, name
        assert FAILED in answer.text
        assert "clomo_admin" not in answer.headers.get("set-cookie", "")
        page = answer.text.replace(csrf_of(answer.text), "TOKEN")
        answers.append(page.replace(f'value="{name}"', 'value="NAME"'))
    assert len(set(answers)) == 1


def _empty(console: Console) -> Response:
    client = console.client()
    form = client.get("/admin/acme/login")
    answer: Response = client.post(
        "/admin/acme/login", data={"csrf": csrf_of(form.text), "name": "", "password": "x"}
    )
    return answer


def test_an_unknown_name_costs_a_password_verification(console: Console) -> None:
    """Both verify one argon2id hash: an unknown name is not answered measurably faster."""
    client = console.client(signin_limit="100/minute", signin_lockout="100/minute")

    def timed(name: str) -> float:
        form = client.get("/admin/acme/login")
        data = {"csrf": csrf_of(form.text), "name": name, "password": "Wrong-Pass1"}
        started = time.perf_counter()
        assert client.post("/admin/acme/login", data=data).status_code == 401
        return time.perf_counter() - started

    known = statistics.median(timed("user1") for _ in range(5))
    unknown = statistics.median(timed("no-such-person") for _ in range(5))
    assert unknown > known * 0.5, (known, unknown)


def test_failed_sign_ins_lock_the_name_out_whether_it_exists_or_not(console: Console) -> None:
    app = console.pages.app(signin_lockout="3/15 minutes", signin_limit="100/minute")
    for name, right in (("user1", "Acme-Admin1"), ("ghost", "Whatever1")):
        for _ in range(3):
            answer = console.sign_in(console.pages.client(app), "acme", name, "Wrong-Pass1")
            assert answer.status_code == 401
        locked = console.sign_in(console.pages.client(app), "acme", name, right)
        assert locked.status_code == 429
        assert 'data-kind="locked"' in locked.text
    # another name, and the same name in another tenant, are not locked
    assert console.sign_in(console.pages.client(app), "beta", "user1").status_code == 303
    assert console.sign_in(console.pages.client(app), "acme", "user2").status_code == 303


def test_a_name_typed_in_full_width_signs_in_and_shares_the_lockout(console: Console) -> None:
    app = console.pages.app(signin_lockout="3/15 minutes", signin_limit="100/minute")
    wide = "\u3000ＵＳＥＲ１"  # an IME left on, with an ideographic space before the name
    answer = console.sign_in(console.pages.client(app), "acme", wide, "Acme-Admin1")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/acme/accounts"
    for name in ("ｕｓｅｒ１", "User1", "ｕｓｅｒ1"):  # three spellings of one name: one counter
        failed = console.sign_in(console.pages.client(app), "acme", name, "Wrong-1a")
        assert failed.status_code == 401
    locked = console.sign_in(console.pages.client(app), "acme", "user1", "Acme-Admin1")
    assert locked.status_code == 429


def test_sign_in_attempts_per_client_are_limited(console: Console) -> None:
    app = console.pages.app(signin_limit="3/minute")
    for _ in range(3):
        assert console.sign_in(console.pages.client(app), password="Wrong-1a").status_code == 401
    limited = console.sign_in(console.pages.client(app))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    other = console.pages.client(app, address="192.0.2.9")
    assert console.sign_in(other).status_code == 303


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


def test_sessions_expire_when_idle_and_at_the_latest_after_the_maximum(console: Console) -> None:
    clock = Clock()
    app = console.pages.app(clock=clock, session_idle_minutes=10, session_max_hours=1)
    client = console.pages.client(app)
    assert console.sign_in(client).status_code == 303
    for _ in range(6):  # used every 9 minutes: alive until the hour is over
        clock.now += timedelta(minutes=9)
        assert client.get("/admin/acme/accounts").status_code == 200
    clock.now += timedelta(minutes=7)
    expired = client.get("/admin/acme/accounts")
    assert expired.status_code == 303 and expired.headers["location"] == "/admin/acme/login"

    assert console.sign_in(client).status_code == 303
    clock.now += timedelta(minutes=11)
    assert client.get("/admin/acme/accounts").status_code == 303


def test_signing_out_ends_the_session_for_good(console: Console) -> None:
    client = console.signed_in()
    stolen = dict(client.cookies)
    page = client.get("/admin/acme/accounts")
    out = client.post("/admin/acme/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"].startswith("/admin/acme/login")
    assert 'clomo_admin=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    replay = console.client()
    replay.cookies.update(stolen)
    assert replay.get("/admin/acme/accounts").status_code == 303
    assert "signed-out" in client.get(out.headers["location"]).text


def test_a_privilege_taken_away_ends_the_session(console: Console) -> None:
    client = console.signed_in(name="user2")
    assert client.get("/admin/acme/accounts").status_code == 200
    admin = console.signed_in()
    page = admin.get("/admin/acme/accounts/user2")
    taken = admin.post(
        "/admin/acme/accounts/user2/edit",
        data={"csrf": csrf_of(page.text), "name": "user2", "role": "none", "memo": ""},
    )
    assert taken.status_code == 303, taken.text
    assert client.get("/admin/acme/accounts").status_code == 303


def test_the_sign_in_form_needs_its_csrf_token(console: Console) -> None:
    client = console.client()
    client.get("/admin/acme/login")
    refused = client.post("/admin/acme/login", data={"name": "user1", "password": "Acme-Admin1"})
    assert refused.status_code == 403
    assert 'data-kind="form_expired"' in refused.text
    assert form_value(client.get("/admin/acme/login").text, "csrf")
