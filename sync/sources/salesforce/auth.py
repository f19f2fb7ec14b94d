"""Signing in to Salesforce: the OAuth 2.0 JWT bearer flow, or username + password + token.

Both exchanges are made here, at `{login_url}/...` as SPEC §8 says, rather than by
simple-salesforce: its own login builds `https://{domain}.salesforce.com/...` and so cannot reach a
My Domain, an Experience Cloud site or a proxy with a port. The `Salesforce` client is then opened
with the returned access token and instance URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from simple_salesforce.util import getUniqueElementValueFromXmlString

from sync.config.secrets import read_secret
from sync.errors import SourceUnavailable, StopRun, TransientError
from sync.sources.salesforce.faults import translate
from sync.sources.settings import SalesforceSourceSettings

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts an assertion whose `exp` is at most a few minutes ahead.
ASSERTION_LIFETIME_SECONDS = 180


@dataclass(frozen=True, slots=True)
class Login:
    access_token: str
    instance_url: str


class _PinnedCaSession(requests.Session):
    """A session that trusts `ca_file` even where REQUESTS_CA_BUNDLE is set.

    requests lets that variable override `Session.verify`; a tenant that names a CA bundle means it.
    Proxies from the environment are still honoured.
    """

    def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
        merged = super().merge_environment_settings(*args, **kwargs)
        merged["verify"] = self.verify
        return merged


def http_session(settings: SalesforceSourceSettings) -> requests.Session:
    """The session for every call: the system's trust store, REQUESTS_CA_BUNDLE, or ca_file."""
    if settings.ca_file is None:
        return requests.Session()
    if not settings.ca_file.is_file():
        raise StopRun(f"Salesforce ca_file {settings.ca_file} is not a readable file")
    session = _PinnedCaSession()
    session.verify = str(settings.ca_file)
    return session


def jwt_audience(settings: SalesforceSourceSettings) -> str:
    """The `aud` claim: login or test.salesforce.com for Salesforce's own hosts (My Domains too),
    else the login URL itself (an Experience Cloud site). See
    https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm"""
    if settings.jwt_audience:
        return settings.jwt_audience
    host = (urlsplit(settings.login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "login.salesforce.com" or host.endswith(".my.salesforce.com"):
        return "https://login.salesforce.com"
    return settings.login_url.rstrip("/")


class Authenticator:
    """Obtains a fresh access token each time `login` is called (after a session expired, say)."""

    def __init__(self, settings: SalesforceSourceSettings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session
        self.base = settings.login_url.rstrip("/")
        self._key: RSAPrivateKey | None = None

    def login(self) -> Login:
        if self.settings.consumer_key:
            return self._jwt_bearer(self.settings.consumer_key)
        return self._password()

    # -- OAuth 2.0 JWT bearer ------------------------------------------------------------------

    def _jwt_bearer(self, consumer_key: str) -> Login:
        claims = {
            "iss": consumer_key,
            "sub": self.settings.username,
            "aud": jwt_audience(self.settings),
            "exp": int(time.time()) + ASSERTION_LIFETIME_SECONDS,
        }
        assertion = jwt.encode(claims, self._private_key(), algorithm="RS256")
        url = f"{self.base}/services/oauth2/token"
        response = self._post(url, data={"grant_type": JWT_BEARER, "assertion": assertion})
        body = _json(response)
        if response.status_code != 200:
            raise SourceUnavailable(
                f"Salesforce refused the JWT bearer sign-in of {self.settings.username} at {url}: "
                f"{body.get('error', response.status_code)}: {body.get('error_description', '')}"
            )
        return _login(body.get("access_token"), body.get("instance_url"), url)

    def _private_key(self) -> RSAPrivateKey:
        if self._key is not None:
            return self._key
        where = (
            f"variable {self.settings.private_key_env}"
            if self.settings.private_key_env
            else f"file {self.settings.private_key_file}"
        )
        text = read_secret(
            "Salesforce private key", self.settings.private_key_env, self.settings.private_key_file
        )
        if text and "-----BEGIN" in text and "\n" not in text.strip():
            text = text.replace("\\n", "\n")  # a PEM pasted into a variable with escaped newlines
        try:
            key = serialization.load_pem_private_key((text or "").encode(), password=None)
        except TypeError:
            raise StopRun(
                f"Salesforce private key ({where}) is encrypted; give it unencrypted"
            ) from None
        except ValueError:
            raise StopRun(
                f"Salesforce private key ({where}) is not a PEM private key "
                "(expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
            ) from None
        if not isinstance(key, RSAPrivateKey):
            raise StopRun(f"Salesforce private key ({where}) is not an RSA key (JWT uses RS256)")
        self._key = key
        return key

    # -- username + password + security token (SOAP login) ------------------------------------

    def _password(self) -> Login:
        # The SOAP partner login needs no connected app: the one flow that takes exactly the
        # keys SPEC §8 lists (password + security token, no consumer secret).
        password = read_secret("Salesforce password", self.settings.password_env, None) or ""
        token = read_secret("Salesforce security token", self.settings.security_token_env, None)
        url = f"{self.base}/services/Soap/u/{self.settings.api_version}"
        envelope = _SOAP_LOGIN.format(
            username=escape(self.settings.username or ""), password=escape(password + (token or ""))
        )
        headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"}
        response = self._post(url, data=envelope.encode(), headers=headers)
        try:
            session_id = getUniqueElementValueFromXmlString(response.content, "sessionId")
            server_url = getUniqueElementValueFromXmlString(response.content, "serverUrl")
            fault = getUniqueElementValueFromXmlString(response.content, "faultstring")
        except ExpatError:
            raise SourceUnavailable(
                f"Salesforce password sign-in at {url}: HTTP {response.status_code}, "
                "not a SOAP answer"
            ) from None
        if response.status_code != 200 or not session_id:
            raise SourceUnavailable(
                f"Salesforce refused the password sign-in of {self.settings.username} at {url}: "
                f"{fault or f'HTTP {response.status_code}'}"
            )
        return _login(session_id, server_url, url)

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.post(url, timeout=self.settings.timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            raise translate(exc, "sign-in") from exc
        if response.status_code >= 500 and b"faultstring" not in response.content:
            # SOAP faults (a wrong password) come as 500 too; only a bare 5xx is worth retrying.
            raise TransientError(f"Salesforce sign-in at {url}: HTTP {response.status_code}")
        return response


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SourceUnavailable(
            f"Salesforce sign-in at {response.url}: HTTP {response.status_code}, not a JSON answer"
        )
    return body


def _login(token: object, instance_url: object, url: str) -> Login:
    if not isinstance(token, str) or not token:
        raise SourceUnavailable(f"Salesforce sign-in at {url} returned no access token")
    if not isinstance(instance_url, str) or urlsplit(instance_url).scheme != "https":
        raise SourceUnavailable(
            f"Salesforce sign-in at {url} returned no https instance URL ({instance_url!r})"
        )
    parts = urlsplit(instance_url)
    return Login(token, f"{parts.scheme}://{parts.netloc}")


_SOAP_LOGIN = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body>
    <n1:login xmlns:n1="urn:partner.soap.sforce.com">
      <n1:username>{username}</n1:username>
      <n1:password>{password}</n1:password>
    </n1:login>
  </env:Body>
</env:Envelope>"""
