"""A real OpenID provider for the console's single sign-on tests: npm's `oidc-provider` run by
node (server.mjs beside this file), on 127.0.0.1 at a free port. scripts/setup installs it
with `npm ci`; without it the tests fail and say so."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "console", "console-client-secret-" + "s" * 24
OTHER_ID, OTHER_SECRET = "other", "other-client-secret-" + "o" * 24
START_SECONDS = 30


@dataclass
class OpenIdProvider:
    issuer: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def next_sign_in(self, user: str, where: str = "id_token", tamper: str = "") -> None:
        """Who the provider signs in next (an empty user: it refuses), where the name claim is,
        and what to change in the next ID token (re-signed with the provider's own key)."""
        params = {"user": user, "where": where, "tamper": tamper}
        answer = httpx.get(f"{self.issuer}/test/next", params=params, timeout=10)
        assert answer.status_code == 204, answer.text

    def authorize(self, url: str, redirect_prefix: str) -> str:
        """Follows the provider's redirects from the authorization URL until it sends the
        browser back to `redirect_prefix`; that URL."""
        assert url.startswith(self.issuer + "/"), url
        with httpx.Client(timeout=10, trust_env=False) as browser:
            for _hop in range(10):
                answer = browser.get(url)
                assert answer.status_code in (302, 303), (answer.status_code, answer.text)
                url = str(answer.next_request.url) if answer.next_request else ""
                if url.startswith(redirect_prefix):
                    return url
                assert urlsplit(url).netloc == urlsplit(self.issuer).netloc, url
        raise AssertionError("the provider never sent the browser back")


@contextmanager
def openid_provider(redirect_uris: list[str]) -> Iterator[OpenIdProvider]:
    """The provider with two clients: `console` (the console's, with `redirect_uris`) and
    `other` (another application of the same provider)."""
    script = HERE / "server.mjs"
    assert (HERE / "node_modules" / "oidc-provider").is_dir(), (
        f"oidc-provider is not installed: run scripts/setup (npm ci in {HERE})"
    )
    clients = [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris},
        {"client_id": OTHER_ID, "client_secret": OTHER_SECRET, "redirect_uris": redirect_uris},
    ]
    process = subprocess.Popen(
        ["node", str(script), json.dumps({"clients": clients})],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    provider = OpenIdProvider("", process)
    ready = threading.Event()

    def read() -> None:  # the provider's output, kept for failure messages
        assert process.stdout is not None
        for line in process.stdout:
            provider.output.append(line.rstrip())
            if line.startswith("listening ") and not ready.is_set():
                provider.issuer = line.split(" ", 1)[1].strip()
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(START_SECONDS) and provider.issuer, "\n".join(provider.output)
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)
