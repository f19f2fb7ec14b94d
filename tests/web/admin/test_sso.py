"""Single sign-on to the console (SPEC §19) against a real OpenID provider (npm's oidc-provider
run by node): a privileged account gets in; a foreign or replayed state, a token for another
audience or long expired, a name without an account, an unprivileged account, a refusal at the
provider and a provider that is down are each refused with a clear page and no session."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from httpx import Response
from starlette.testclient import TestClient

from sync.config.settings import check_settings, load_settings
from sync.errors import ConfigError
from sync.services.tenants import provision_from_file
from tests.support.configs import person, write_config
from tests.web.admin.conftest import Console
from tests.web.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    OpenIdProvider,
    openid_provider,
    self_signed,
)

PUBLIC_URL = "http://testserver"
CALLBACK = f"{PUBLIC_URL}/admin/acme/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIdProvider]:
    with openid_provider([CALLBACK]) as running:
        yield running


def configure_sso(console: Console, issuer: str, ca_file: Path | None = None) -> None:
    """Tenant acme signs administrators in through `issuer`; [web] public_url is the test
    client's address. The store takes the file's tenants as `web` would."""
    ws = console.pages.ws
    secret = ws.root / "oidc-client-secret"
    secret.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    oidc = {"issuer": issuer, "client_id": CLIENT_ID, "client_secret_file": str(secret),
            "provider_name": "Test IdP"}  # fmt: skip
    if ca_file is not None:
        oidc["ca_file"] = str(ca_file)
    ws.configure(console={"oidc": oidc})
    with ws.config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[web]\npublic_url = "{PUBLIC_URL}"\n')
    provision_from_file(console.pages.engine, load_settings(ws.config))


@pytest.fixture
def sso(console: Console, provider: OpenIdProvider) -> Console:
    configure_sso(console, provider.issuer)
    return console


def start(client: TestClient) -> Response:
    answer: Response = client.get("/admin/acme/oidc/start")
    assert answer.status_code == 302, answer.text
    return answer


def signed_in_as(client: TestClient) -> str | None:
    """The name the console shows as signed in, or None when it sends the client to sign in."""
    page = client.get("/admin/acme/accounts")
    if page.status_code == 303:
        assert page.headers["location"] == "/admin/acme/login"
        return None
    assert page.status_code == 200, page.text
    marker = 'id="signed-in" data-role="'
    assert marker in page.text
    name: str = page.text.split(marker, 1)[1].split(">", 1)[1].split(" (", 1)[0]
    return name


def sign_in(client: TestClient, provider: OpenIdProvider) -> Response:
    back = provider.authorize(start(client).headers["location"], PUBLIC_URL + "/")
    answer: Response = client.get(back)
    return answer


def refused(answer: Response, reason: str, status: int) -> None:
    """The sign-in page with the refusal said, the password form still there, no session."""
    assert answer.status_code == status, answer.text
    assert f'data-kind="sso-{reason}"' in answer.text, answer.text
    assert 'id="password"' in answer.text
    assert "clomo_admin" not in answer.headers.get("set-cookie", "")


def test_a_privileged_account_signs_in(
    sso: Console, provider: OpenIdProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = sso.client()
    login = client.get("/admin/acme/login")
    assert 'href="/admin/acme/oidc/start"' in login.text
    assert "Test IdP でサインイン" in login.text and "Sign in with Test IdP" in login.text
    provider.next_sign_in("user1")
    started = start(client)
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["scope"] == ["openid profile email"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["redirect_uri"] == [CALLBACK] and query["client_id"] == [CLIENT_ID]
    assert query["state"] and query["nonce"]
    cookie = started.headers["set-cookie"].lower()
    assert "clomo_oidc=" in cookie and "samesite=lax" in cookie and "httponly" in cookie
    assert "max-age=600" in cookie
    back = provider.authorize(started.headers["location"], PUBLIC_URL + "/")
    answer = client.get(back)
    assert answer.status_code == 200, answer.text
    assert 'url=/admin/acme/accounts"' in answer.text
    session_cookie = [c for c in answer.headers.get_list("set-cookie") if "clomo_admin=" in c]
    assert session_cookie and "samesite=strict" in session_cookie[0].lower()
    assert signed_in_as(client) == "user1"
    assert "console sign-in to acme as 'user1' by single sign-on" in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert "clomo_oidc" not in client.cookies  # the sign-in's state is gone


def test_the_name_comes_from_userinfo_when_the_id_token_lacks_it(
    sso: Console, provider: OpenIdProvider
) -> None:
    client = sso.client()
    provider.next_sign_in("user2", where="userinfo")
    assert sign_in(client, provider).status_code == 200
    assert signed_in_as(client) == "user2"


def test_an_sso_session_needs_no_password(sso: Console, provider: OpenIdProvider) -> None:
    """An administrator who only ever signs in through the provider has no password: the
    session's every request checks the account without asking for one."""
    ws = sso.pages.ws
    ws.users([person(1), person(2), person(3), person(4)])
    assert ws.cli("sync", "--all").code == 0
    assert ws.cli("accounts", "edit", "--tenant", "acme", "user4", "--role", "operator").code == 0
    client = sso.client()
    provider.next_sign_in("user4")
    assert sign_in(client, provider).status_code == 200
    assert signed_in_as(client) == "user4"
    assert client.get("/admin/acme/runs").status_code == 200
    # the privilege taken away: the next click finds a stranger
    assert ws.cli("accounts", "edit", "--tenant", "acme", "user4", "--role", "none").code == 0
    assert signed_in_as(client) is None


def test_a_foreign_state_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    """The provider's answer to one browser's sign-in, brought to another browser that began
    its own: the state is not the one its cookie holds."""
    victim, attacker = sso.client(), sso.client()
    provider.next_sign_in("user1")
    back = provider.authorize(start(attacker).headers["location"], PUBLIC_URL + "/")
    start(victim)
    refused(victim.get(back), "state", 400)
    assert signed_in_as(victim) is None
    fresh = sso.client()  # no sign-in began here at all
    refused(fresh.get(back), "state", 400)
    fresh.cookies.set("clomo_oidc", "a-cookie-not-signed-by-the-console")
    refused(fresh.get(back), "state", 400)


def test_an_answer_naming_another_issuer_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    """RFC 9207's `iss` in the answer: a mix-up with another provider is caught before the
    code is spent."""
    client = sso.client()
    provider.next_sign_in("user1")
    back = provider.authorize(start(client).headers["location"], PUBLIC_URL + "/")
    parts = urlsplit(back)
    query = parse_qs(parts.query)
    assert query["iss"] == [provider.issuer]
    query["iss"] = ["https://idp.attacker.example"]
    forged = parts._replace(query=urlencode(query, doseq=True)).geturl()
    refused(client.get(forged), "issuer", 403)
    assert signed_in_as(client) is None


def test_a_replayed_answer_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    app = sso.pages.app()  # one web process: the one that spent the state
    client = sso.pages.client(app)
    provider.next_sign_in("user1")
    started = start(client)
    state_cookie = client.cookies["clomo_oidc"]
    back = provider.authorize(started.headers["location"], PUBLIC_URL + "/")
    assert client.get(back).status_code == 200
    replayer = sso.pages.client(app)  # the same answer with the same cookie, once more
    replayer.cookies.set("clomo_oidc", state_cookie)
    refused(replayer.get(back), "replayed", 400)
    assert signed_in_as(replayer) is None


def test_a_token_for_another_audience_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    client = sso.client()
    provider.next_sign_in("user1", tamper="audience")
    refused(sign_in(client, provider), "audience", 403)
    assert signed_in_as(client) is None


def test_an_expired_id_token_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    client = sso.client()
    provider.next_sign_in("user1", tamper="expired")
    refused(sign_in(client, provider), "expired", 403)
    assert signed_in_as(client) is None


@pytest.mark.parametrize(
    ("user", "reason"), [("nobody", "no_account"), ("user3", "not_privileged"), ("", "denied")]
)
def test_who_may_not_sign_in_is_refused(
    sso: Console, provider: OpenIdProvider, user: str, reason: str
) -> None:
    """A name without an account, an account without a privilege (user3), and a provider
    that refused the person: nobody is created, nobody signs in."""
    before = sso.pages.ws.accounts()
    client = sso.client()
    provider.next_sign_in(user)
    refused(sign_in(client, provider), reason, 403)
    assert signed_in_as(client) is None
    assert sso.pages.ws.accounts() == before


def test_a_disabled_administrator_is_refused(sso: Console, provider: OpenIdProvider) -> None:
    ws = sso.pages.ws
    ws.users([person(1, active="false"), person(2), person(3)])
    assert ws.cli("sync", "--all").code == 0
    client = sso.client()
    provider.next_sign_in("user1")
    refused(sign_in(client, provider), "not_privileged", 403)


@pytest.fixture(scope="module")
def tls_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    tls = self_signed(tmp_path_factory.mktemp("tls"))
    with openid_provider([CALLBACK], tls) as running:
        yield running


def test_the_providers_tls_is_checked_against_ca_file(
    console: Console, tls_provider: OpenIdProvider
) -> None:
    """Over https, the provider's certificate is trusted through `ca_file` only: without it
    (the system's CAs) the provider counts as unreachable."""
    assert tls_provider.issuer.startswith("https://")
    configure_sso(console, tls_provider.issuer)
    refused(console.client().get("/admin/acme/oidc/start"), "unavailable", 503)
    assert tls_provider.ca_file is not None
    configure_sso(console, tls_provider.issuer, tls_provider.ca_file)
    client = console.client()
    tls_provider.next_sign_in("user1")
    assert sign_in(client, tls_provider).status_code == 200
    assert signed_in_as(client) == "user1"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def test_a_provider_that_is_down_gets_a_clear_page(console: Console) -> None:
    configure_sso(console, f"http://127.0.0.1:{closed_port()}")
    client = console.client()
    assert 'href="/admin/acme/oidc/start"' in client.get("/admin/acme/login").text
    answer = client.get("/admin/acme/oidc/start")
    refused(answer, "unavailable", 503)
    assert "cannot be reached" in answer.text
    assert console.sign_in(client).status_code == 303  # the password still signs in


def test_a_provider_gone_before_the_callback_gets_a_clear_page(console: Console) -> None:
    """The provider answered the browser, then went down before the console could exchange
    the code: the same clear page, the password form under it."""
    with openid_provider([CALLBACK]) as short_lived:
        configure_sso(console, short_lived.issuer)
        client = console.client()
        short_lived.next_sign_in("user1")
        back = short_lived.authorize(start(client).headers["location"], PUBLIC_URL + "/")
    refused(client.get(back), "unavailable", 503)
    assert signed_in_as(client) is None


def test_without_single_sign_on_there_is_no_button(console: Console) -> None:
    client = console.client()
    assert "/oidc/start" not in client.get("/admin/acme/login").text
    assert client.get("/admin/acme/oidc/start").status_code == 404


def config_problems(tmp_path: Path, oidc: dict[str, str], web: str = "") -> str:
    path = tmp_path / "sso.toml"
    tenant = {"id": "acme", "reset_url": "https://x.example.com/r?token={token}",
              "console": {"oidc": oidc}, "source": {"kind": "csv", "path": "u.csv"}}  # fmt: skip
    write_config(path, f"sqlite:///{tmp_path}/s.db", tmp_path / "out", [tenant])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(web)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    return "\n".join(raised.value.problems)


PUBLIC = '\n[web]\npublic_url = "https://sync.example.com"\n'


def test_an_http_issuer_is_refused_off_loopback(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path,
        {"issuer": "http://idp.example.com", "client_id": "c", "client_secret_env": "IDP_SECRET"},
        PUBLIC,
    )
    assert "tenants[0].console.oidc.issuer" in problems or "console.oidc.issuer" in problems
    assert "only on a loopback address" in problems


def test_exactly_one_client_secret(tmp_path: Path) -> None:
    both = {"issuer": "https://idp.example.com", "client_id": "c",
            "client_secret_env": "IDP_SECRET", "client_secret_file": "secret.txt"}  # fmt: skip
    assert "exactly one of client_secret_env" in config_problems(tmp_path, both, PUBLIC)
    neither = {"issuer": "https://idp.example.com", "client_id": "c"}
    assert "exactly one of client_secret_env" in config_problems(tmp_path, neither, PUBLIC)


def test_single_sign_on_needs_the_public_url(tmp_path: Path) -> None:
    oidc = {"issuer": "https://idp.example.com", "client_id": "c", "client_secret_env": "S"}
    assert "[web] public_url is needed" in config_problems(tmp_path, oidc)


def test_config_check_reads_the_client_secret_and_ca_file(tmp_path: Path) -> None:
    """`config check` names a secret file or CA file it cannot read, and refuses a secret
    written where a variable's name belongs, without repeating it."""
    path = tmp_path / "sso.toml"
    leaked = "Abc123XyzSecretValue9"
    tenants = [
        {"id": "acme", "reset_url": "https://x.example.com/r?token={token}",
         "console": {"oidc": {"issuer": "https://idp.example.com", "client_id": "c",
                              "client_secret_file": "nope.txt", "ca_file": "ca.pem"}},
         "source": {"kind": "csv", "path": "u.csv"}},
        {"id": "beta", "reset_url": "https://x.example.com/r?token={token}",
         "console": {"oidc": {"issuer": "https://idp.example.com", "client_id": "c",
                              "client_secret_env": leaked}},
         "source": {"kind": "csv", "path": "u.csv"}},
    ]  # fmt: skip
    write_config(path, f"sqlite:///{tmp_path}/s.db", tmp_path / "out", tenants)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(PUBLIC)
    _settings, problems = check_settings(path, {})
    said = "\n".join(problems)
    assert "tenants[acme].console.oidc.client_secret_file" in said and "nope.txt" in said
    assert "tenants[acme].console.oidc.ca_file" in said
    assert "tenants[beta].console.oidc.client_secret_env: client_secret_env must name" in said
    assert leaked not in said
