"""An OpenID Connect relying party's calls to the provider (SPEC §19): discovery, the
authorization URL, the code exchange, the ID token's checks and userinfo.

authlib's OAuth 2 client (over requests) builds the authorization request with PKCE and
exchanges the code; joserfc, authlib's JOSE library, verifies the ID token against the
provider's published keys. Every call is blocking and bounded by TIMEOUT_SECONDS: the web
process makes them off its event loop. Messages name the provider and what went wrong, never
the client secret or a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet

TIMEOUT_SECONDS = 10
SCOPES = "openid profile email"
LEEWAY_SECONDS = 60  # clock skew allowed between us and the provider
# the JWS algorithms an ID token may be signed with: asymmetric only (OIDC Core §10.1), so the
# client secret is never a verification key and "none" is never accepted
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
WELL_KNOWN = "/.well-known/openid-configuration"


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with an error or a broken document."""


class TokenRefused(Exception):
    """The provider's answer failed a check; `reason` is one of: expired, audience, issuer,
    nonce, signature, token."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Client:
    """This relying party as registered at the provider."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    ca_file: Path | None = None


@dataclass(frozen=True)
class Provider:
    """What the provider's discovery document says of it."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


def _session(client: Client) -> OAuth2Session:
    session = OAuth2Session(
        client.client_id,
        client.client_secret,
        scope=SCOPES,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT_SECONDS,  # every request, the token endpoint's included
    )
    if client.ca_file is not None:
        # REQUESTS_CA_BUNDLE and friends would override the session's own `verify`
        session.trust_env = False
        session.verify = str(client.ca_file)
    return session


def _json(session: OAuth2Session, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON object from the provider; the client's own token is never sent."""
    try:
        response = session.get(url, timeout=TIMEOUT_SECONDS, withhold_token=True, **kwargs)
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"{what} {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{what} {url}: HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{what} {url}: not JSON") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{what} {url}: not a JSON object")
    return document


def discover(client: Client) -> Provider:
    """The provider's endpoints from `{issuer}/.well-known/openid-configuration`; its `issuer`
    must be the configured one exactly (OpenID Connect Discovery §4.3)."""
    url = client.issuer.rstrip("/") + WELL_KNOWN
    with _session(client) as session:
        document = _json(session, url, "discovery")
    endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [key for key in ("issuer", *endpoints) if not isinstance(document.get(key), str)]
    if missing:
        raise ProviderUnavailable(f"discovery {url}: no {', '.join(missing)}")
    if document["issuer"] != client.issuer:
        raise ProviderUnavailable(
            f"discovery {url}: issuer {document['issuer']!r} is not {client.issuer!r}"
        )
    userinfo = document.get("userinfo_endpoint")
    return Provider(
        document["issuer"],
        document["authorization_endpoint"],
        document["token_endpoint"],
        document["jwks_uri"],
        userinfo if isinstance(userinfo, str) else None,
    )


def authorization_url(
    client: Client, provider: Provider, state: str, nonce: str, verifier: str
) -> str:
    """Where to send the browser: the code flow with PKCE (S256), `state` and `nonce`."""
    with _session(client) as session:
        url, _state = session.create_authorization_url(
            provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    return str(url)


def exchange(client: Client, provider: Provider, code: str, verifier: str) -> dict[str, Any]:
    """The token response for the code (client_secret_basic); TokenRefused when the provider
    refuses the code, ProviderUnavailable when it cannot be asked."""
    with _session(client) as session:
        try:
            token = session.fetch_token(
                provider.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
                timeout=TIMEOUT_SECONDS,
            )
        except OAuthError as exc:
            raise TokenRefused(
                "token", f"the token endpoint refused the code: {exc.error}"
            ) from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(
                f"token {provider.token_endpoint}: {type(exc).__name__}"
            ) from None
    if not isinstance(token.get("id_token"), str):
        raise TokenRefused("token", "the token response has no id_token")
    return dict(token)


def _keys(client: Client, provider: Provider) -> KeySet:
    with _session(client) as session:
        document = _json(session, provider.jwks_uri, "keys")
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProviderUnavailable(f"keys {provider.jwks_uri}: {exc}") from None


def verify_id_token(
    client: Client, provider: Provider, id_token: str, nonce: str, now: int
) -> dict[str, Any]:
    """The ID token's claims once its signature (the provider's published keys), issuer,
    audience, expiry and nonce are checked (OpenID Connect Core §3.1.3.7)."""
    keys = _keys(client, provider)
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except JoseError as exc:
        raise TokenRefused("signature", f"the ID token's signature: {exc.error}") from None
    claims: dict[str, Any] = dict(token.claims)
    _check_claims(client, claims, nonce, now)
    return claims


# which refusal a failed claim is
_REASONS = {"iss": "issuer", "aud": "audience", "nonce": "nonce", "exp": "expired",
            "iat": "expired", "nbf": "expired"}  # fmt: skip


def _check_claims(client: Client, claims: Mapping[str, Any], nonce: str, now: int) -> None:
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": client.issuer},
        aud={"essential": True, "value": client.client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(dict(claims))
    except ClaimError as exc:
        reason = _REASONS.get(exc.claim, "token")
        raise TokenRefused(reason, f"the ID token's {exc.error}: {exc.description}") from None
    # several audiences: the authorized party must be us (OpenID Connect Core §3.1.3.7, 4-5)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client.client_id:
        raise TokenRefused("audience", "the ID token's azp is not this client")


def userinfo(client: Client, provider: Provider, access_token: str) -> dict[str, Any]:
    """The userinfo endpoint's claims for the access token."""
    if provider.userinfo_endpoint is None:
        return {}
    with _session(client) as session:
        headers = {"Authorization": f"Bearer {access_token}"}
        return _json(session, provider.userinfo_endpoint, "userinfo", headers=headers)
