"""The console's second factor through its HTTP pages (SPEC §19): TOTP enrolment and use, a
used code refused within its window, recovery codes once each, wrong codes locking the name
out, `accounts reset-mfa`; and sessions and lockouts shared by two apps on one store, kept
across a restart (SPEC §15). The clock is the app's own, moved by the test: TOTP steps are
reached without waiting."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pyotp
import pytest
from httpx import Response
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from sync.services.sealed import SecretBox
from sync.store.engine import open_store
from sync.store.schema import console_factors, console_recovery_codes
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.web.admin.conftest import Console, give_passwords, setup_tenants
from tests.web.conftest import Pages, form_value

ACME = "/admin/acme"
# limits that the tests' many sign-ins from one address stay within (one test locks out)
ROOMY = {"signin_limit": "100/minute", "signin_lockout": "20/15 minutes"}


class Clock:
    def __init__(self) -> None:
        # the start of a TOTP step, so "the same step" and "the next step" are exact
        now = utc_now().replace(microsecond=0)
        self.now = now - timedelta(seconds=now.second % 30)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def mfa(workspace: Workspace) -> Iterator[Console]:
    """acme and beta whose system_admins must give a second factor (the default)."""
    setup_tenants(workspace, ("system_admin",))
    engine = open_store(workspace.database_url)
    pages = Pages(workspace, engine)
    give_passwords(engine, pages.settings)
    yield Console(pages)
    engine.dispose()


def secret_of(page: Response) -> str:
    match = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text)
    assert match, page.text
    return match.group(1)


def codes_of(page: Response) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.text)


def post(client: TestClient, page: str, path: str, **data: str) -> Response:
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    answer: Response = client.post(path, data={"csrf": form_value(shown.text, "csrf"), **data})
    return answer


def enrol_totp(console: Console, client: TestClient, clock: Clock) -> tuple[str, list[str]]:
    """Signs in, enrols TOTP; returns the secret and the recovery codes shown."""
    answer = console.sign_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == f"{ACME}/mfa"
    assert client.get(f"{ACME}/mfa").headers["location"] == f"{ACME}/mfa/enrol"
    page = client.get(f"{ACME}/mfa/enrol")
    assert page.status_code == 200 and "<svg" in page.text  # the QR code, inline
    secret = secret_of(page)
    wrong = client.post(f"{ACME}/mfa/enrol/totp",
                        data={"csrf": form_value(page.text, "csrf"), "code": "000000"})  # fmt: skip
    assert wrong.status_code == 400 and secret_of(wrong) == secret  # the same secret again
    code = pyotp.TOTP(secret).at(clock.now)
    done = client.post(f"{ACME}/mfa/enrol/totp",
                       data={"csrf": form_value(wrong.text, "csrf"), "code": code})  # fmt: skip
    assert done.status_code == 200, done.text
    codes = codes_of(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def second_sign_in(console: Console, app: ASGIApp, kind: str, code: str) -> Response:
    client = console.pages.client(app)
    signed = console.sign_in(client)
    assert signed.headers.get("location") == f"{ACME}/mfa", signed.text[-1500:]
    path = f"{ACME}/mfa/totp" if kind == "totp" else f"{ACME}/mfa/recovery"
    return post(client, f"{ACME}/mfa", path, code=code)


def actions(console: Console, name: str = "user1") -> list[str]:
    result = console.pages.ws.cli("accounts", "history", "--tenant", "acme", name, "--json")
    assert result.code == 0, result.err
    return [e["action"] for e in json.loads(result.out)]


def test_totp_enrol_sign_in_reuse_and_recovery_codes(mfa: Console) -> None:
    clock = Clock()
    app = mfa.pages.app(clock=clock, **ROOMY)
    client = mfa.pages.client(app)
    assert mfa.sign_in(client).status_code == 303
    for page in ("accounts", "settings", "runs", "security"):  # nothing before the factor
        assert client.get(f"{ACME}/{page}").headers["location"] == f"{ACME}/mfa"
    secret, codes = enrol_totp(mfa, client, clock)
    assert client.get(f"{ACME}/accounts").status_code == 200
    with mfa.pages.engine.connect() as conn:
        kept = conn.execute(select(console_factors.c.secret)).scalars().all()
        hashes = conn.execute(select(console_recovery_codes.c.code_hash)).scalars().all()
    assert len(kept) == 1 and kept[0].startswith("fernet:") and secret not in kept[0]
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)

    totp = pyotp.TOTP(secret)
    wrong = second_sign_in(mfa, app, "totp", "123456" if totp.at(clock.now) != "123456" else "1")
    assert wrong.status_code == 401 and 'data-kind="wrong"' in wrong.text
    # the enrolment used this step's code: within its window it is refused
    reused = second_sign_in(mfa, app, "totp", totp.at(clock.now))
    assert reused.status_code == 401 and 'data-kind="reused"' in reused.text
    clock.now += timedelta(seconds=30)
    accepted = second_sign_in(mfa, app, "totp", totp.at(clock.now))
    assert accepted.status_code == 303 and accepted.headers["location"] == f"{ACME}/accounts"
    again = second_sign_in(mfa, app, "totp", totp.at(clock.now))
    assert again.status_code == 401 and 'data-kind="reused"' in again.text

    first = second_sign_in(mfa, app, "recovery", codes[3].upper().replace("-", " "))
    assert first.status_code == 303
    second = second_sign_in(mfa, app, "recovery", codes[3])
    assert second.status_code == 401
    assert second_sign_in(mfa, app, "recovery", codes[4]).status_code == 303

    history = actions(mfa)
    assert history.count("mfa_enrolled") == 1 and history.count("mfa_enrol_failed") == 1
    assert history.count("mfa_verified") == 3 and history.count("mfa_failed") == 4
    assert "mfa_recovery_codes_created" in history


def test_new_recovery_codes_void_the_old(mfa: Console) -> None:
    clock = Clock()
    app = mfa.pages.app(clock=clock, **ROOMY)
    client = mfa.pages.client(app)
    _, old = enrol_totp(mfa, client, clock)
    page = post(client, f"{ACME}/security", f"{ACME}/security/recovery-codes")
    assert page.status_code == 200 and 'id="codes-replaced"' in page.text
    new = codes_of(page)
    assert len(new) == 10 and not set(new) & set(old)
    assert second_sign_in(mfa, app, "recovery", old[0]).status_code == 401
    assert second_sign_in(mfa, app, "recovery", new[0]).status_code == 303


def test_wrong_codes_lock_the_account_name_out(mfa: Console) -> None:
    clock = Clock()
    app = mfa.pages.app(clock=clock, signin_lockout="3/15 minutes", signin_limit="100/minute")
    secret, _ = enrol_totp(mfa, mfa.pages.client(app), clock)  # one wrong enrolment code
    clock.now += timedelta(seconds=30)
    client = mfa.pages.client(app)
    assert mfa.sign_in(client).headers["location"] == f"{ACME}/mfa"
    for wrong in ("999999", "999998"):
        assert post(client, f"{ACME}/mfa", f"{ACME}/mfa/totp", code=wrong).status_code == 401
    right = post(client, f"{ACME}/mfa", f"{ACME}/mfa/totp", code=pyotp.TOTP(secret).at(clock.now))
    assert right.status_code == 429 and 'data-kind="locked"' in right.text
    # the password sign-in is locked out too
    locked = mfa.sign_in(mfa.pages.client(app))
    assert locked.status_code == 429 and 'data-kind="locked"' in locked.text
    clock.now += timedelta(minutes=16)
    assert second_sign_in(mfa, app, "totp", pyotp.TOTP(secret).at(clock.now)).status_code == 303


def test_an_account_with_a_factor_gives_it_before_enrolling_another(mfa: Console) -> None:
    clock = Clock()
    app = mfa.pages.app(clock=clock, **ROOMY)
    enrol_totp(mfa, mfa.pages.client(app), clock)
    thief = mfa.pages.client(app)  # knows the password only
    assert mfa.sign_in(thief).status_code == 303
    assert thief.get(f"{ACME}/mfa/enrol").headers["location"] == f"{ACME}/mfa"
    page = thief.get(f"{ACME}/mfa")
    data = {"csrf": form_value(page.text, "csrf"), "code": "123456"}
    sneaked = thief.post(f"{ACME}/mfa/enrol/totp", data=data)
    assert sneaked.status_code == 303 and sneaked.headers["location"] == f"{ACME}/mfa"


def test_privileges_outside_require_mfa_for_sign_in_with_the_password(mfa: Console) -> None:
    """...until the account enrols a factor of its own accord: then it is asked like any."""
    clock = Clock()
    app = mfa.pages.app(clock=clock, **ROOMY)
    client = mfa.pages.client(app)
    answer = mfa.sign_in(client, "acme", "user2")  # operator
    assert answer.headers["location"] == f"{ACME}/accounts"
    assert client.get(f"{ACME}/accounts").status_code == 200
    page = client.get(f"{ACME}/mfa/enrol")
    code = pyotp.TOTP(secret_of(page)).at(clock.now)
    data = {"csrf": form_value(page.text, "csrf"), "code": code}
    assert len(codes_of(client.post(f"{ACME}/mfa/enrol/totp", data=data))) == 10
    again = mfa.pages.client(app)
    assert mfa.sign_in(again, "acme", "user2").headers["location"] == f"{ACME}/mfa"
    assert again.get(f"{ACME}/accounts").headers["location"] == f"{ACME}/mfa"


def test_reset_mfa_removes_the_factors_and_ends_the_sessions(mfa: Console) -> None:
    clock = Clock()
    app = mfa.pages.app(clock=clock, **ROOMY)
    client = mfa.pages.client(app)
    enrol_totp(mfa, client, clock)
    assert client.get(f"{ACME}/accounts").status_code == 200

    result = mfa.pages.ws.cli("accounts", "reset-mfa", "--tenant", "acme", "USER1")
    assert result.code == 0, result.err
    assert "user1" in result.out
    gone = client.get(f"{ACME}/accounts")
    assert gone.status_code == 303 and gone.headers["location"] == f"{ACME}/login"
    # the next sign-in enrols anew; the old recovery codes are gone with the factor
    fresh = mfa.pages.client(app)
    assert mfa.sign_in(fresh).status_code == 303
    assert fresh.get(f"{ACME}/mfa").headers["location"] == f"{ACME}/mfa/enrol"

    history = mfa.pages.ws.cli("accounts", "history", "--tenant", "acme", "user1", "--json")
    reset = [e for e in json.loads(history.out) if e["action"] == "mfa_reset"]
    assert len(reset) == 1 and reset[0]["actor"].startswith("admin:")
    assert reset[0]["actor"] != "admin:user1"

    unknown = mfa.pages.ws.cli("accounts", "reset-mfa", "--tenant", "acme", "nobody")
    assert unknown.code == 2 and "nobody" in unknown.err


def test_two_apps_share_sessions_and_lockouts_and_a_restart_keeps_them(mfa: Console) -> None:
    """Two `web` apps on one store, as two processes behind one address would be; a third
    one built afresh is a restarted process."""
    clock = Clock()
    web = {"signin_lockout": "3/15 minutes", "signin_limit": "100/minute"}
    one, two = mfa.pages.app(clock=clock, **web), mfa.pages.app(clock=clock, **web)
    client = mfa.pages.client(one)
    secret, _ = enrol_totp(mfa, client, clock)
    cookie = client.cookies["clomo_admin"]
    other = mfa.pages.client(two)
    other.cookies.set("clomo_admin", cookie)
    assert other.get(f"{ACME}/accounts").status_code == 200
    restarted = mfa.pages.client(mfa.pages.app(clock=clock, **web))
    restarted.cookies.set("clomo_admin", cookie)
    assert restarted.get(f"{ACME}/accounts").status_code == 200

    # signing out on one ends the session on the others
    post(other, f"{ACME}/accounts", f"{ACME}/logout")
    assert restarted.get(f"{ACME}/accounts").status_code == 303

    # failed sign-ins on either app count toward one lockout (enrolment had one wrong code)
    assert mfa.sign_in(mfa.pages.client(one), password="Wrong-Pass1").status_code == 401
    assert mfa.sign_in(mfa.pages.client(two), password="Wrong-Pass1").status_code == 401
    assert mfa.sign_in(mfa.pages.client(one)).status_code == 429
    assert mfa.sign_in(mfa.pages.client(two)).status_code == 429
    assert secret  # the factor itself stays


def test_a_totp_secret_is_sealed_with_the_web_secret() -> None:
    sealed = SecretBox("one-web-secret-" + "x" * 32).seal("JBSWY3DPEHPK3PXP")
    assert sealed.startswith("fernet:") and "JBSWY3DPEHPK3PXP" not in sealed
    assert SecretBox("one-web-secret-" + "x" * 32).open(sealed) == "JBSWY3DPEHPK3PXP"
    assert SecretBox("another-secret-" + "y" * 32).open(sealed) is None  # the secret changed
    assert SecretBox(None).open(sealed) is None
    # without a lasting web secret the secret is kept as it is, and still opens
    assert SecretBox(None).seal("JBSWY3DPEHPK3PXP") == "plain:JBSWY3DPEHPK3PXP"
    assert SecretBox("any-" + "z" * 32).open("plain:JBSWY3DPEHPK3PXP") == "JBSWY3DPEHPK3PXP"


def rp_of(page: Response) -> str:
    match = re.search(r'data-options="([^"]*)"', page.text)
    assert match, page.text
    options = json.loads(html.unescape(match.group(1)))
    return str(options["rp"]["id"])


def test_the_passkey_relying_party_is_the_public_url_or_the_host_asked(mfa: Console) -> None:
    for web, expected in (({}, "testserver"), ({"public_url": "https://sync.example.com"},
                                                "sync.example.com")):  # fmt: skip
        client = mfa.pages.client(mfa.pages.app(utc_now, **ROOMY, **web))
        assert mfa.sign_in(client).status_code == 303
        page = client.get(f"{ACME}/mfa/enrol")
        assert rp_of(page) == expected
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy  # the passkey script, from this origin only
