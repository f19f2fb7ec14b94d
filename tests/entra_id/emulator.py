"""A Microsoft Entra ID and Microsoft Graph wire emulator on 127.0.0.1 for tests.

It serves TLS with a certificate the test generated, and speaks what the real services do for the
client-credentials flow and users/delta: the tenant's OpenID metadata
(`/{tenant}/v2.0/.well-known/openid-configuration`, AADSTS90002 for another tenant), the token
endpoint (checking the client secret, or the client assertion JWT's signature against the
registered certificate, its `x5t#S256`, `aud`, `iss`, `sub` and `exp`), and Graph's
`/v1.0/users/delta` (`$select`, paging by `@odata.nextLink`, `@odata.deltaLink`, `@removed`
entries for deleted users, 410 for an expired delta token), `/v1.0/users` with `$filter`,
`/v1.0/users/{id | userPrincipalName}` with `$select` (404 `Request_ResourceNotFound`), and
`/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$select=id` (nested groups' users,
paged; 404 for a group that does not exist, 400 for an id that is not a GUID, 403 without
GroupMember.Read.All).
Faults are scripted per Graph request number (`script[n]`: "429", "503", "504", "403", "410").
Any request it does not know is answered 500 and recorded in `unknown`, which the fixture checks.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
from cryptography import x509

from tests.entra_id.keys import AppCertificate
from tests.support.tls_http import JsonHandler, Served, serve_tls

TENANT = "8f2c6a0e-1d3b-4c5e-9f70-0a1b2c3d4e5f"
CLIENT_ID = "5b0e9c1a-7d2f-4e6a-8b3c-9d0e1f2a3b4c"
SECRET = "Qx8~fake.client-secret_value"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PROPERTIES = (
    "id",
    "accountEnabled",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "otherMails",
    "proxyAddresses",
    "employeeId",
    "userPrincipalName",
    "department",
    "onPremisesExtensionAttributes",
    "employeeHireDate",
    "employeeLeaveDateTime",
)
FILTER = re.compile(r"(\w+) eq ('(?:[^']|'')*'|true|false)")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def make_user(n: int, **properties: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "accountEnabled": True,
        "displayName": f"User {n}",
        "givenName": f"Given{n}",
        "surname": f"Sur{n}",
        "mail": f"user{n}@contoso.example",
        "otherMails": [],
        "proxyAddresses": [f"SMTP:user{n}@contoso.example", f"smtp:u{n}@contoso.example"],
        "employeeId": f"E{n:04d}",
        "userPrincipalName": f"user{n}@contoso.onmicrosoft.com",
        "department": "Sales" if n % 2 else "Support",
        "onPremisesExtensionAttributes": {"extensionAttribute1": f"X{n}"},
    }
    user.update(properties)
    return user


class Refusal(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def graph_error(status: int, code: str, message: str, **headers: str) -> Refusal:
    return Refusal(status, {"error": {"code": code, "message": message}}, headers)


def token_error(error: str, code: int, text: str) -> Refusal:
    description = f"AADSTS{code}: {text} Trace ID: 0000 Correlation ID: 0000"
    return Refusal(
        401 if error == "invalid_client" else 400,
        {"error": error, "error_description": description, "error_codes": [code]},
    )


@dataclass
class EntraEmulator(Served):
    certfile: str
    keyfile: str
    users: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 3
    certificate: AppCertificate | None = None  # the registered certificate credential
    permissions: set[str] = field(default_factory=lambda: {"User.Read.All"})
    script: dict[int, str] = field(default_factory=dict)
    retry_after: str = "0"  # the Retry-After header of a scripted 429/503
    resources: set[str] = field(default_factory=set)  # besides its own URL, as Graph
    # what happened
    unknown: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    token_requests: int = 0
    graph_requests: int = 0
    tokens: set[str] = field(default_factory=set)
    assertion_headers: list[dict[str, Any]] = field(default_factory=list)
    # change tracking: every change bumps `version`; `changed[id]` is the version of its last one
    version: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    delta_tokens: dict[str, tuple[int, str]] = field(default_factory=dict)  # -> (version, select)
    expired: set[str] = field(default_factory=set)
    cursors: dict[str, tuple[list[dict[str, Any]], int, str]] = field(default_factory=dict)
    # group id -> its direct members' ids (users' or other groups')
    groups: dict[str, list[str]] = field(default_factory=dict)

    def start(self) -> EntraEmulator:
        self.server, self.thread, self.port = serve_tls(self, _Handler, self.certfile, self.keyfile)
        return self

    # -- the directory changing -----------------------------------------------------------------

    def update(self, user_id: str, **properties: Any) -> None:
        user = next(u for u in self.users if u["id"] == user_id)
        user.update(properties)
        self._touch(user_id)

    def add(self, user: dict[str, Any]) -> None:
        self.users.append(user)
        self._touch(user["id"])

    def delete(self, user_id: str) -> None:
        self.users = [u for u in self.users if u["id"] != user_id]
        self.deleted.add(user_id)
        self._touch(user_id)

    def expire_delta_tokens(self) -> None:
        self.expired |= set(self.delta_tokens)

    def _touch(self, user_id: str) -> None:
        self.version += 1
        self.changed[user_id] = self.version

    # -- Entra ID -------------------------------------------------------------------------------

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        if tenant != TENANT:
            raise Refusal(
                400,
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found. Check to "
                    "make sure you have the correct tenant ID and are signing into the correct "
                    "cloud.",
                    "error_codes": [90002],
                },
            )
        base = f"{self.url}/{TENANT}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token"],
            "tenant_region_scope": "EU",
        }

    def token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        self.token_requests += 1
        if tenant != TENANT:
            raise token_error("invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            raise token_error("unsupported_grant_type", 70003, "The grant type is not supported.")
        if form.get("client_id") != CLIENT_ID:
            raise token_error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{TENANT}'.",
            )
        if form.get("scope") not in {f"{r}/.default" for r in {self.url, *self.resources}}:
            raise token_error(
                "invalid_scope", 1002012, f"The scope {form.get('scope')} is invalid."
            )
        if "client_secret" in form:
            if form["client_secret"] != SECRET:
                raise token_error(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    f"is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{CLIENT_ID}'.",
                )
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            self._check_assertion(form.get("client_assertion", ""))
        else:
            raise token_error(
                "invalid_client", 7000218, "The request body must contain client_assertion."
            )
        access = secrets.token_urlsafe(32)
        self.tokens.add(access)
        return {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
        }

    def _check_assertion(self, assertion: str) -> None:
        invalid = token_error(
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        )
        if self.certificate is None:
            raise invalid
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise invalid from None
        self.assertion_headers.append(header)
        # MSAL keeps base64's padding on the thumbprint; Entra takes it with or without
        if str(header.get("x5t#S256", "")).rstrip("=") != self.certificate.thumbprint_s256:
            raise token_error(
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is not "
                f"registered on application. [Reason - The key was not found.] App Id: {CLIENT_ID}",
            )
        certificate: x509.Certificate = self.certificate.certificate
        if certificate.not_valid_after_utc.timestamp() < time.time():
            raise token_error(
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. "
                "[Reason - The key used is expired.]",
            )
        try:
            claims = jwt.decode(
                assertion,
                certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["PS256", "RS256"],
                audience=f"{self.url}/{TENANT}/oauth2/v2.0/token",
                issuer=CLIENT_ID,
                options={"require": ["exp", "aud", "iss", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise token_error(
                "invalid_client", 700024, "Client assertion is not within its valid time range."
            ) from None
        except jwt.PyJWTError:
            raise invalid from None
        if claims["sub"] != CLIENT_ID:
            raise invalid

    # -- Microsoft Graph ------------------------------------------------------------------------

    def graph(self, path: str, query: dict[str, list[str]], headers: Any) -> dict[str, Any]:
        self.graph_requests += 1
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            raise graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        fault = self.script.get(self.graph_requests)
        if fault in ("429", "503", "504"):
            raise graph_error(
                int(fault),
                "TooManyRequests" if fault == "429" else "ServiceUnavailable",
                "Too many requests or the service is busy.",
                **{"Retry-After": self.retry_after},
            )
        if fault == "403" or "User.Read.All" not in self.permissions:
            raise graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if path == "/v1.0/users/delta":
            return self._delta(query, fault)
        if path == "/v1.0/users":
            return self._list(query, headers)
        return self._user(unquote(path.removeprefix("/v1.0/users/")), query)

    def _user(self, key: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """`/v1.0/users/{id | userPrincipalName}` with `$select`: the user, or 404."""
        if set(query) - {"$select"}:
            self.unknown.append(f"users/{key} with {sorted(query)}")
            raise graph_error(500, "notEmulated", f"users/{{id}} with {sorted(query)}")
        select = self._select(query)
        for user in self.users:
            if key.lower() in (user["id"].lower(), str(user.get("userPrincipalName")).lower()):
                context = f"{self.url}/v1.0/$metadata#users({select})/$entity"
                return {"@odata.context": context, **_selected(user, select)}
        raise graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )

    def transitive_users(
        self, group_id: str, query: dict[str, list[str]], headers: Any
    ) -> dict[str, Any]:
        """`/groups/{id}/transitiveMembers/microsoft.graph.user`: the users in the group and in
        the groups within it, each once; only `$select=id` (what the source asks), `$top` and
        `$count`, as an advanced query (the ConsistencyLevel header on every page)."""
        self.graph_requests += 1
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            raise graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        path = f"/v1.0/groups/{group_id}/transitiveMembers/microsoft.graph.user"
        if headers.get("ConsistencyLevel") != "eventual":  # asked again on every page
            raise graph_error(
                400, "Request_UnsupportedQuery", "OData cast requires advanced query parameters."
            )
        if "$skiptoken" in query:
            return self._page(query["$skiptoken"][0], path)
        if set(query) - {"$select", "$top", "$count"} or query.get("$select") != ["id"]:
            self.unknown.append(f"transitiveMembers of {group_id} with {sorted(query)}")
            raise graph_error(500, "notEmulated", f"transitiveMembers with {sorted(query)}")
        if "GroupMember.Read.All" not in self.permissions:
            raise graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if not GUID.fullmatch(group_id):
            raise graph_error(400, "Request_BadRequest", f"Invalid object identifier '{group_id}'.")
        group_id = group_id.lower()  # Graph takes an id in either case
        if group_id not in self.groups:
            raise graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{group_id}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        found: dict[str, None] = {}
        pending, seen = [group_id], {group_id}
        while pending:
            for member in self.groups[pending.pop(0)]:
                if member in self.groups:
                    if member not in seen:
                        seen.add(member)
                        pending.append(member)
                elif any(u["id"] == member for u in self.users):
                    found[member] = None
        top = int(query.get("$top", ["100"])[0])
        token = secrets.token_urlsafe(12)
        entries = [{"@odata.type": "#microsoft.graph.user", "id": uid} for uid in found]
        self.cursors[token] = (entries, self.version, "id")
        saved, self.page_size = self.page_size, min(top, self.page_size)
        try:
            return self._page(token, path)
        finally:
            self.page_size = saved

    def _select(self, query: dict[str, list[str]]) -> str:
        select = query.get("$select", [""])[0]
        lifecycle = "User-LifeCycleInfo.Read.All"
        if "employeeLeaveDateTime" in select.split(",") and lifecycle not in self.permissions:
            raise graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        for name in filter(None, select.split(",")):
            if name not in PROPERTIES:
                raise graph_error(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
                )
        return select

    def _delta(self, query: dict[str, list[str]], fault: str | None) -> dict[str, Any]:
        if "$skiptoken" in query:
            return self._page(query["$skiptoken"][0], "delta")
        if "$deltatoken" in query:
            token = query["$deltatoken"][0]
            if fault == "410" or token in self.expired:
                raise graph_error(
                    410,
                    "syncStateNotFound",
                    "The sync state generation is not "
                    "found. Delta tokens may have expired; restart with a full sync.",
                )
            if token not in self.delta_tokens:
                raise graph_error(400, "Request_BadRequest", "Invalid delta token.")
            since, select = self.delta_tokens[token]
            entries = [
                self._entry(uid, select) for uid, v in sorted(self.changed.items()) if v > since
            ]
            return self._cursor(entries, select, "delta")
        select = self._select(query)
        rows = sorted(self.users, key=lambda u: u["id"])
        return self._cursor([_selected(u, select) for u in rows], select, "delta")

    def _entry(self, user_id: str, select: str) -> dict[str, Any]:
        if user_id in self.deleted and all(u["id"] != user_id for u in self.users):
            return {
                "@odata.type": "#microsoft.graph.user",
                "id": user_id,
                "@removed": {"reason": "changed"},
            }
        return _selected(next(u for u in self.users if u["id"] == user_id), select)

    def _list(self, query: dict[str, list[str]], headers: Any) -> dict[str, Any]:
        if "$skiptoken" in query:
            return self._page(query["$skiptoken"][0], "list")
        select = self._select(query)
        test = _filter(query.get("$filter", [""])[0])
        if "$count" in query and headers.get("ConsistencyLevel") != "eventual":
            raise graph_error(400, "Request_BadRequest", "$count requires ConsistencyLevel.")
        rows = [_selected(u, select) for u in sorted(self.users, key=lambda u: u["id"]) if test(u)]
        return self._cursor(rows, select, "list")

    def _cursor(self, entries: list[dict[str, Any]], select: str, kind: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(12)
        self.cursors[token] = (entries, self.version, select)
        return self._page(token, kind)

    def _page(self, token: str, kind: str) -> dict[str, Any]:
        if token not in self.cursors:
            raise graph_error(400, "Request_BadRequest", "Invalid skip token.")
        entries, version, select = self.cursors.pop(token)
        path = (
            kind
            if kind.startswith("/")
            else "/v1.0/users/delta"
            if kind == "delta"
            else "/v1.0/users"
        )
        answer: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#users",
            "value": entries[: self.page_size],
        }
        rest = entries[self.page_size :]
        if rest:
            following = secrets.token_urlsafe(12)
            self.cursors[following] = (rest, version, select)
            answer["@odata.nextLink"] = f"{self.url}{path}?{urlencode({'$skiptoken': following})}"
        elif kind == "delta":
            delta = secrets.token_urlsafe(12)
            self.delta_tokens[delta] = (version, select)
            answer["@odata.deltaLink"] = f"{self.url}{path}?{urlencode({'$deltatoken': delta})}"
        return answer


def _selected(user: dict[str, Any], select: str) -> dict[str, Any]:
    names = {"id", *filter(None, select.split(","))} if select else set(PROPERTIES[:6])
    return {name: user.get(name) for name in PROPERTIES if name in names}


def _filter(text: str) -> Any:
    """`p eq 'v' and q eq true`; anything else is refused as Graph refuses what it cannot do."""
    tests = []
    for part in filter(None, text.split(" and ")):
        match = FILTER.fullmatch(part.strip())
        if not match or match[1] not in PROPERTIES:
            raise graph_error(400, "Request_UnsupportedQuery", f"Unsupported query: '{part}'.")
        value = match[2]
        literal: Any = (
            value == "true" if value in ("true", "false") else value[1:-1].replace("''", "'")
        )
        tests.append((match[1], literal))
    return lambda user: all(user.get(name) == literal for name, literal in tests)


class _Handler(JsonHandler):
    emulator: EntraEmulator

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.emulator.requests.append(("GET", parts.path, query))
        try:
            metadata = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", parts.path)
            members = re.fullmatch(
                r"/v1\.0/groups/([^/]+)/transitiveMembers/microsoft\.graph\.user", parts.path
            )
            one_user = re.fullmatch(r"/v1\.0/users/[^/]+", parts.path)
            if metadata:
                self._json(200, self.emulator.openid_configuration(metadata[1]))
            elif parts.path in ("/v1.0/users/delta", "/v1.0/users") or one_user:
                self._json(200, self.emulator.graph(parts.path, query, self.headers))
            elif members:
                self._json(200, self.emulator.transitive_users(members[1], query, self.headers))
            else:
                self._unknown()
        except Refusal as refusal:
            self._json(refusal.status, refusal.body, refusal.headers)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.emulator.requests.append(("POST", parts.path, {}))
        token = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", parts.path)
        if not token:
            self._unknown()
            return
        form = {k: v[0] for k, v in parse_qs(body).items()}
        try:
            self._json(200, self.emulator.token(token[1], form))
        except Refusal as refusal:
            self._json(refusal.status, refusal.body)

    def _unknown(self) -> None:
        self.emulator.unknown.append(f"{self.command} {self.path}")
        self._json(500, {"error": {"code": "notEmulated", "message": self.path}})
