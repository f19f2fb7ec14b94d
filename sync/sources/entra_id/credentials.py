"""The app registration's credential and MSAL's client-credentials flow.

The secret or certificate is read and checked before MSAL sees it, so a missing variable, a PEM
without its key, or an expired certificate is named at once. MSAL reports a refused credential
as a dict with `error`, not an exception; each such answer becomes a StopRun naming the
configuration key to fix. Nothing here logs or repeats a secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sync.config.secrets import read_secret
from sync.errors import SourceUnavailable, StopRun, TransientError
from sync.sources.settings import EntraIdSourceSettings

GRAPH_SCOPE_PATH = "/.default"  # the application permissions admin-consented for the app
# MSAL error codes worth another attempt (RFC 6749 §5.2 plus Entra's own)
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def client_credential(settings: EntraIdSourceSettings) -> str | dict[str, str]:
    """MSAL's `client_credential`: the secret, or the certificate's key and public half."""
    if settings.certificate_file is not None:
        return _certificate(settings.certificate_file)
    secret = read_secret(
        "entra_id client_secret", settings.client_secret_env, settings.client_secret_file
    )
    if not secret:
        raise StopRun("entra_id: client_secret_env / client_secret_file holds an empty secret")
    return secret


def _certificate(path: Path) -> dict[str, str]:
    """A PEM with the private key and its certificate (Microsoft's recommended credential):
    MSAL signs the assertion PS256 and names the certificate by its SHA-256 thumbprint."""
    where = f"entra_id certificate_file {path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StopRun(f"{where}: cannot read it: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise StopRun(
            f"{where}: holds no unencrypted PEM private key (it needs the key and the certificate)"
        ) from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    own = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    matching = [
        c
        for c in certificates
        if c.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == own
    ]
    if not matching:
        raise StopRun(f"{where}: holds no certificate for its private key")
    certificate = matching[0]
    now = datetime.now(UTC)
    if certificate.not_valid_after_utc <= now:
        raise StopRun(
            f"{where}: the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} "
            "UTC; upload a new one to the app registration and point certificate_file at it"
        )
    if certificate.not_valid_before_utc > now:
        raise StopRun(
            f"{where}: the certificate is valid only from "
            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = certificate.public_bytes(serialization.Encoding.PEM)
    return {"private_key": key_pem.decode(), "public_certificate": public.decode()}


class TokenSource:
    """Access tokens for Graph from one MSAL application, which caches them until near expiry."""

    def __init__(self, settings: EntraIdSourceSettings) -> None:
        self.settings = settings
        self.credential = client_credential(settings)
        self._app: msal.ConfidentialClientApplication | None = None
        self.scope = settings.graph_endpoint + GRAPH_SCOPE_PATH

    def token(self) -> str:
        """A current access token; TransientError when the authority may answer later."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as exc:
            raise network_failure(exc, "the token endpoint") from None
        except ValueError:  # a proxy's HTML page where JSON was due, say
            raise SourceUnavailable(
                f"entra_id: the token endpoint of {settings_authority(self.settings)} gave an "
                "answer that is not OAuth JSON"
            ) from None
        if not isinstance(result, dict):
            raise SourceUnavailable("entra_id: MSAL returned no token and no error")
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        raise self._refusal(result)

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use: building it reads the tenant's OpenID metadata."""
        if self._app is not None:
            return self._app
        settings = self.settings
        authority = f"{settings.authority}/{settings.tenant_id}"
        try:
            self._app = msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=self.credential,
                authority=authority,
                # Microsoft's instance discovery refuses a sovereign or private authority and
                # cannot be reached offline; the tenant's own metadata is read either way.
                instance_discovery=False,
                # MSAL's own requests session: the system's CAs or REQUESTS_CA_BUNDLE
                timeout=settings.timeout_seconds,
            )
        except ValueError as exc:
            # MSAL rewords the discovery failure; the answer's status is in the original error
            cause = f"{exc}\n{exc.__context__ or ''}"
            raise SourceUnavailable(_discovery_failure(settings, cause)) from None
        except requests.RequestException as exc:
            raise network_failure(exc, f"the authority {authority}") from None
        return self._app

    def _refusal(self, result: dict[str, Any]) -> Exception:
        error = str(result.get("error") or "unknown_error")
        description = str(result.get("error_description") or "").splitlines()
        detail = f"{error}: {description[0]}" if description else error
        settings = self.settings
        if error in TRANSIENT_ERRORS:
            return TransientError(f"entra_id: the token endpoint answered {detail}")
        if error == "invalid_client":
            if settings.certificate_file is not None:
                key = f"certificate_file {settings.certificate_file}"
                hint = "upload this certificate to the app registration (Certificates & secrets)"
            else:
                key = (
                    f"client_secret_env {settings.client_secret_env}"
                    if settings.client_secret_env
                    else f"client_secret_file {settings.client_secret_file}"
                )
                hint = "the secret is wrong or expired; create a new one and store its Value"
            return SourceUnavailable(
                f"entra_id: Entra ID refused the client credential ({key}): {hint} ({detail})"
            )
        if error == "unauthorized_client":
            return SourceUnavailable(
                f"entra_id: client_id {settings.client_id} is not an application of tenant_id "
                f"{settings.tenant_id} ({detail})"
            )
        if error in ("invalid_tenant", "invalid_request") and "AADSTS90002" in detail:
            return SourceUnavailable(f"entra_id: tenant_id {settings.tenant_id}: {detail}")
        return SourceUnavailable(
            f"entra_id: no token for client_id {settings.client_id} ({detail})"
        )


def settings_authority(settings: EntraIdSourceSettings) -> str:
    return f"{settings.authority}/{settings.tenant_id}"


def network_failure(exc: requests.RequestException, where: str) -> Exception:
    """A TLS failure will not pass by itself (a proxy's CA, a wrong host): it stops the run at
    once; other connection failures are worth retrying."""
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceUnavailable(
            f"entra_id: TLS with {where} failed; if a proxy inspects TLS, give its CA in "
            "REQUESTS_CA_BUNDLE"
        )
    return TransientError(f"entra_id: cannot reach {where} ({type(exc).__name__})")


def _discovery_failure(settings: EntraIdSourceSettings, message: str) -> str:
    """MSAL's ValueError when the tenant's OpenID metadata is refused: a tenant id that does not
    exist (Entra answers 400 AADSTS90002), or an authority that is not an Entra authority."""
    if "90002" in message or "HTTP status: 400" in message:
        return (
            f"entra_id: tenant_id {settings.tenant_id} does not exist at {settings.authority} "
            "(give the directory (tenant) ID or a verified domain of the tenant)"
        )
    first = message.splitlines()[0].split(" Authority would")[0] if message else "no metadata"
    return f"entra_id: authority {settings.authority}/{settings.tenant_id}: {first}"
