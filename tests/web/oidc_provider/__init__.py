"""A real OpenID provider for the console's single sign-on tests: npm's `oidc-provider` run by
node (server.mjs beside this file), on 127.0.0.1 at a free port. scripts/setup installs it
with `npm ci`; without it the tests fail and say so."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "console", "console-client-secret-" + "s" * 24
OTHER_ID, OTHER_SECRET = "other", "other-client-secret-" + "o" * 24
START_SECONDS = 30


@dataclass
class OpenIdProvider:
    issuer: str
    process: subprocess.Popen[str]
    verify: ssl.SSLContext | bool = True
    ca_file: Path | None = None  # the certificate to trust, over https
    output: list[str] = field(default_factory=list)

    def next_sign_in(self, user: str, where: str = "id_token", tamper: str = "") -> None:
        """Who the provider signs in next (an empty user: it refuses), where the name claim is,
        and what to change in the next ID token (re-signed with the provider's own key)."""
        params = {"user": user, "where": where, "tamper": tamper}
        answer = httpx.get(
            f"{self.issuer}/test/next", params=params, timeout=10, verify=self.verify
        )
        assert answer.status_code == 204, answer.text

    def authorize(self, url: str, redirect_prefix: str) -> str:
        """Follows the provider's redirects from the authorization URL until it sends the
        browser back to `redirect_prefix`; that URL."""
        assert url.startswith(self.issuer + "/"), url
        with httpx.Client(timeout=10, trust_env=False, verify=self.verify) as browser:
            for _hop in range(10):
                answer = browser.get(url)
                assert answer.status_code in (302, 303), (answer.status_code, answer.text)
                url = str(answer.next_request.url) if answer.next_request else ""
                if url.startswith(redirect_prefix):
                    return url
                assert urlsplit(url).netloc == urlsplit(self.issuer).netloc, url
        raise AssertionError("the provider never sent the browser back")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1: the certificate is its own CA, so a client
    trusts it only when told to (`ca_file`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test OpenID provider")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "provider-cert.pem", folder / "provider-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def openid_provider(
    redirect_uris: list[str], tls: tuple[Path, Path] | None = None
) -> Iterator[OpenIdProvider]:
    """The provider with two clients: `console` (the console's, with `redirect_uris`) and
    `other` (another application of the same provider); over https with `tls`'s (certificate,
    key)."""
    script = HERE / "server.mjs"
    assert (HERE / "node_modules" / "oidc-provider").is_dir(), (
        f"oidc-provider is not installed: run scripts/setup (npm ci in {HERE})"
    )
    clients = [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris},
        {"client_id": OTHER_ID, "client_secret": OTHER_SECRET, "redirect_uris": redirect_uris},
    ]
    options: dict[str, object] = {"clients": clients}
    if tls is not None:
        options["tls"] = {"cert": str(tls[0]), "key": str(tls[1])}
    process = subprocess.Popen(
        ["node", str(script), json.dumps(options)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    verify = ssl.create_default_context(cafile=str(tls[0])) if tls else True
    provider = OpenIdProvider("", process, verify, tls[0] if tls else None)
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
