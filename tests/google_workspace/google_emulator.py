"""A wire emulator of Google's OAuth token endpoint and the Directory API's `users.list`.

It speaks what google-auth and google-api-python-client really send: a form POST with a
signed JWT assertion (checked with the public half of the key the test generated), then
`GET /admin/directory/v1/users` with a bearer token, `customer`/`domain`, `maxResults`,
`pageToken`, `fields`, `projection` and `query`; `GET /admin/directory/v1/users/{userKey}`
(`users.get` by id or address, 404 `notFound` for nobody); and
`GET /admin/directory/v1/groups/{groupKey}/members` (`members.list`) with
`includeDerivedMembership` (nested groups' members too), `maxResults` and `pageToken`, when the
token carries the group-membership scope. It answers with
Google's JSON shapes and error bodies, and can be scripted to fail (429, 503, rate-limit 403s,
expired tokens).

Anything it does not know is answered with HTTP 500 and recorded in `errors`, which the
fixture asserts is empty: a test cannot pass by talking past the emulator.
"""

from __future__ import annotations

import json
import secrets
import shlex
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

ADMIN = "admin@example.com"  # the administrator the tests' service account acts as
CLIENT_EMAIL = "clomo-sync@acme-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"
GROUP_SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always signs for Google's own token endpoint, whatever the key's token_uri says
# (google/oauth2/service_account.py, _make_authorization_grant_assertion); Google checks it.
AUDIENCE = "https://oauth2.googleapis.com/token"
USERS_PATH = "/admin/directory/v1/users"
GROUPS_PATH = "/admin/directory/v1/groups/"
MEMBER_PARAMS = {"alt", "includeDerivedMembership", "maxResults", "pageToken", "fields"}
LIST_PARAMS = {
    "alt",
    "customer",
    "domain",
    "maxResults",
    "pageToken",
    "fields",
    "query",
    "projection",
    "customFieldMask",
}


GET_PARAMS = {"alt", "fields", "projection", "customFieldMask", "viewType"}


Reply = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


@dataclass
class Failure:
    status: int
    reason: str
    message: str
    times: int | None  # None: on every request for the page
    retry_after: str | None = None


class GoogleEmulator:
    def __init__(
        self,
        public_key_pem: bytes,
        client_email: str,
        key_id: str,
        subject: str | None,
        customer_id: str = "C01emulat",
        domains: tuple[str, ...] = ("example.com",),
    ) -> None:
        self.public_key_pem = public_key_pem
        self.client_email = client_email
        self.key_id = key_id
        self.subject = subject
        self.customer_id = customer_id
        self.domains = domains
        self.users: list[dict[str, Any]] = []
        # group email -> its direct members: a user's or another group's email, or "customer"
        # for the whole organisation
        self.groups: dict[str, list[str]] = {}
        self.member_requests: list[tuple[str, dict[str, str]]] = []  # groupKey, parameters
        self._member_tokens: dict[str, tuple[str, int]] = {}  # token -> (group, offset)
        self._token_scopes: dict[str, str] = {}
        # False: delegation lacks the group scope, so its API calls are refused (Google
        # still issues the token; the scope is checked at the call)
        self.group_scope_granted = True
        self.delegation = True  # False: the token endpoint refuses, as without delegation
        self.forbidden = False  # True: every API call is 403, as for a subject not an admin
        self.errors: list[str] = []  # requests the emulator did not understand
        self.list_requests: list[dict[str, str]] = []  # query parameters of each users.list
        self.get_requests: list[tuple[str, dict[str, str]]] = []  # users.get: userKey, parameters
        self.token_claims: list[dict[str, Any]] = []  # every assertion accepted
        self._tokens: set[str] = set()
        self._page_tokens: dict[str, tuple[int, int]] = {}  # token -> (offset, page number)
        self._failures: dict[int, list[Failure]] = {}
        self._expire_before: set[int] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.emulator = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> GoogleEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- scripting ------------------------------------------------------------------------

    def fail(
        self,
        page: int,
        status: int,
        reason: str = "backendError",
        message: str = "Backend Error",
        times: int | None = 1,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next `times` requests for page `page` (1 is the first) with an error."""
        failure = Failure(status, reason, message, times, retry_after)
        self._failures.setdefault(page, []).append(failure)

    def recover(self) -> None:
        """Scripted failures end: the service is healthy again."""
        self._failures.clear()

    def expire_tokens_before(self, page: int) -> None:
        """Every access token issued so far stops working when page `page` is first asked."""
        self._expire_before.add(page)

    def pages_requested(self) -> list[int]:
        return [self._page_of(params) for params in self.list_requests]

    def _page_of(self, params: dict[str, str]) -> int:
        token = params.get("pageToken")
        return self._page_tokens[token][1] if token in self._page_tokens else 1

    # -- the token endpoint ---------------------------------------------------------------

    def token(self, form: dict[str, str]) -> Reply:
        if form.get("grant_type") != JWT_GRANT or "assertion" not in form:
            return self.unknown(f"token request with grant {form.get('grant_type')!r}")
        assertion = form["assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.public_key_pem,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidSignatureError:
            return (
                400,
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                {},
            )
        except jwt.InvalidTokenError as exc:
            return self.unknown(f"token assertion rejected: {exc}")
        if header.get("kid") != self.key_id or claims.get("scope") not in (
            SCOPE,
            f"{SCOPE} {GROUP_SCOPE}",
        ):
            return self.unknown(
                f"assertion with kid {header.get('kid')} scope {claims.get('scope')}"
            )
        if not self.delegation:
            description = (
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested."
            )
            return 401, {"error": "unauthorized_client", "error_description": description}, {}
        if claims.get("sub") != self.subject:
            refusal = {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
            return 400, refusal, {}
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self.token_claims.append(claims)
            self._tokens.add(access_token)
            self._token_scopes[access_token] = claims["scope"]
        issued = {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}
        return 200, issued, {}

    # -- users.list -----------------------------------------------------------------------

    def list_users(self, params: dict[str, str], authorization: str) -> Reply:
        unknown = sorted(set(params) - LIST_PARAMS)
        if unknown or params.get("alt") != "json":
            return self.unknown(f"users.list with parameters {sorted(params)}")
        token = params.get("pageToken")
        if token is not None and token not in self._page_tokens:
            return self.unknown(f"users.list with a page token never issued: {token!r}")
        offset, page = self._page_tokens[token] if token else (0, 1)
        with self._lock:
            self.list_requests.append(params)
            if page in self._expire_before:
                self._expire_before.discard(page)
                self._tokens.clear()
            known = authorization.removeprefix("Bearer ") in self._tokens
            failure = self._take_failure(page)
        if not known:
            return _api_error(401, "authError", "Invalid Credentials")
        if failure:
            status, body, _ = _api_error(failure.status, failure.reason, failure.message)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return status, body, headers
        if self.forbidden:
            return _api_error(403, "forbidden", "Not Authorized to access this resource/api")
        refused = self._check_scope(params)
        if refused:
            return refused
        try:
            size = int(params.get("maxResults", "100"))
        except ValueError:
            size = 0
        if not 1 <= size <= 500:
            return _api_error(400, "invalid", "Invalid value for: maxResults")
        try:
            selected = [u for u in self.users if self._in_scope(u, params)]
        except ValueError as exc:
            return self.unknown(str(exc))
        try:
            return 200, self._page_body(selected, offset, size, page, params), {}
        except ValueError as exc:
            return self.unknown(str(exc))

    # -- users.get ------------------------------------------------------------------------

    def get_user(self, user_key: str, params: dict[str, str], authorization: str) -> Reply:
        """`users.get` by id, primary address or alias; 404 `notFound` for nobody."""
        unknown = sorted(set(params) - GET_PARAMS)
        if unknown or params.get("alt") != "json":
            return self.unknown(f"users.get with parameters {sorted(params)}")
        with self._lock:
            self.get_requests.append((user_key, params))
            known = authorization.removeprefix("Bearer ") in self._tokens
        if not known:
            return _api_error(401, "authError", "Invalid Credentials")
        if self.forbidden:
            return _api_error(403, "forbidden", "Not Authorized to access this resource/api")
        key = user_key.lower()
        for user in self.users:
            addresses = [str(e.get("address", "")).lower() for e in user.get("emails", [])]
            if (
                key == user["id"]
                or key == str(user.get("primaryEmail")).lower()
                or key in addresses
            ):
                body = _project(user, params)
                if "fields" in params:
                    body = select(body, parse_fields(params["fields"]))
                return 200, body, {}
        return _api_error(404, "notFound", "Resource Not Found: userKey")

    # -- members.list ---------------------------------------------------------------------

    def list_members(self, group_key: str, params: dict[str, str], authorization: str) -> Reply:
        unknown = sorted(set(params) - MEMBER_PARAMS)
        if unknown or params.get("alt") != "json":
            return self.unknown(f"members.list with parameters {sorted(params)}")
        token = params.get("pageToken")
        if token is not None and self._member_tokens.get(token, ("",))[0] != group_key.lower():
            return self.unknown(f"members.list with a page token never issued: {token!r}")
        with self._lock:
            self.member_requests.append((group_key, params))
            scopes = self._token_scopes.get(authorization.removeprefix("Bearer "))
        if scopes is None:
            return _api_error(401, "authError", "Invalid Credentials")
        if GROUP_SCOPE not in scopes.split() or not self.group_scope_granted:
            return _api_error(403, "forbidden", "Request had insufficient authentication scopes.")
        if group_key.lower() not in self.groups:
            return _api_error(404, "notFound", "Resource Not Found: groupKey")
        size = int(params.get("maxResults", "200"))
        if not 1 <= size <= 200:
            return _api_error(400, "invalid", "Invalid value for: maxResults")
        derived = params.get("includeDerivedMembership") == "true"
        members = self._members(group_key.lower(), derived, {group_key.lower()})
        offset = self._member_tokens[token][1] if token else 0
        body: dict[str, Any] = {"kind": "admin#directory#members", "etag": '"emulated"'}
        if members[offset : offset + size]:
            body["members"] = members[offset : offset + size]
        if offset + size < len(members):
            next_token = secrets.token_urlsafe(12)
            with self._lock:
                self._member_tokens[next_token] = (group_key.lower(), offset + size)
            body["nextPageToken"] = next_token
        if "fields" in params:
            try:
                body = select(body, parse_fields(params["fields"]))
            except ValueError as exc:
                return self.unknown(str(exc))
        return 200, body, {}

    def _members(self, group: str, derived: bool, seen: set[str]) -> list[dict[str, Any]]:
        """A group's member resources; with `derived`, its nested groups' members after them
        (each once), as Google lists derived membership."""
        found: list[dict[str, Any]] = []
        by_email = {str(u["primaryEmail"]).lower(): u for u in self.users}
        for email in self.groups[group]:
            key = email.lower()
            if key in self.groups:
                found.append({"kind": "admin#directory#member", "id": f"g-{key}", "email": email,
                              "role": "MEMBER", "type": "GROUP", "status": "ACTIVE"})  # fmt: skip
                if derived and key not in seen:
                    seen.add(key)
                    found.extend(self._members(key, derived, seen))
            elif key == "customer":  # "all users in the organisation"
                customer = {"id": self.customer_id, "role": "MEMBER", "type": "CUSTOMER"}
                found.append({"kind": "admin#directory#member", **customer, "status": "ACTIVE"})
            elif key in by_email:
                user = by_email[key]
                found.append({"kind": "admin#directory#member", "id": user["id"], "email": email,
                              "role": "MEMBER", "type": "USER", "status": "ACTIVE"})  # fmt: skip
        unique = {(m["id"]): m for m in found}
        return list(unique.values())

    def _take_failure(self, page: int) -> Failure | None:
        queue = self._failures.get(page, [])
        if not queue:
            return None
        failure = queue[0]
        if failure.times is not None:
            failure.times -= 1
            if failure.times == 0:
                queue.pop(0)
        return failure

    def _check_scope(self, params: dict[str, str]) -> Reply | None:
        customer, domain = params.get("customer"), params.get("domain")
        if customer is None and domain is None:
            return _api_error(400, "badRequest", "Bad Request")
        if customer is not None and customer not in ("my_customer", self.customer_id):
            return _api_error(400, "badRequest", "Bad Request")
        if domain is not None and domain not in self.domains:
            return _api_error(403, "forbidden", "Not Authorized to access this resource/api")
        return None

    def _in_scope(self, user: dict[str, Any], params: dict[str, str]) -> bool:
        domain = params.get("domain")
        if domain and not str(user.get("primaryEmail", "")).endswith("@" + domain):
            return False
        return all(_matches(user, term) for term in shlex.split(params.get("query", "")))

    def _page_body(
        self,
        selected: list[dict[str, Any]],
        offset: int,
        size: int,
        page: int,
        params: dict[str, str],
    ) -> dict[str, Any]:
        users = [_project(u, params) for u in selected[offset : offset + size]]
        body: dict[str, Any] = {"kind": "admin#directory#users", "etag": '"emulated"'}
        if users:  # Google leaves `users` out of an empty listing
            body["users"] = users
        if offset + size < len(selected):
            next_token = secrets.token_urlsafe(12)
            with self._lock:
                self._page_tokens[next_token] = (offset + size, page + 1)
            body["nextPageToken"] = next_token
        if "fields" in params:
            body = select(body, parse_fields(params["fields"]))
        return body

    def unknown(self, what: str) -> Reply:
        with self._lock:
            self.errors.append(what)
        return 500, {"error": {"code": 500, "message": f"emulator does not know: {what}"}}, {}


def _group_key(path: str) -> str | None:
    """The groupKey of `/admin/directory/v1/groups/{groupKey}/members`, else None."""
    if not path.startswith(GROUPS_PATH) or not path.endswith("/members"):
        return None
    key = unquote(path[len(GROUPS_PATH) : -len("/members")])
    return key if key and "/" not in key else None


def _user_key(path: str) -> str | None:
    """The userKey of `/admin/directory/v1/users/{userKey}`, else None."""
    if not path.startswith(USERS_PATH + "/"):
        return None
    key = unquote(path[len(USERS_PATH) + 1 :])
    return key if key and "/" not in key else None


def _api_error(status: int, reason: str, message: str) -> Reply:
    domain = "usageLimits" if "RateLimit" in reason or status == 429 else "global"
    error = {"message": message, "domain": domain, "reason": reason}
    return status, {"error": {"code": status, "message": message, "errors": [error]}}, {}


def _matches(user: dict[str, Any], term: str) -> bool:
    """The few search terms the tests use; https://developers.google.com/workspace/admin/directory/v1/guides/search-users"""
    field, _, value = term.partition("=")
    if field == "orgUnitPath":  # an org unit matches with every unit below it
        path = str(user.get("orgUnitPath", "/"))
        return value == "/" or path == value or path.startswith(value.rstrip("/") + "/")
    if field == "isSuspended" and value in ("true", "false"):
        return bool(user.get("suspended")) == (value == "true")
    raise ValueError(f"search term {term!r}")


def _project(user: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    projection = params.get("projection", "basic")
    shown = {key: value for key, value in user.items() if key != "customSchemas"}
    schemas = user.get("customSchemas", {})
    if projection == "full" and schemas:
        shown["customSchemas"] = schemas
    elif projection == "custom":
        mask = params.get("customFieldMask", "").split(",")
        picked = {name: schemas[name] for name in mask if name in schemas}
        if picked:
            shown["customSchemas"] = picked
    return shown


# -- the `fields` partial-response syntax: a,b(c,d),e/f ----------------------------------

Selection = dict[str, "Selection | None"]


def parse_fields(text: str) -> Selection:
    selection, position = _selection(text, 0)
    if position != len(text):
        raise ValueError(f"fields {text!r}: unexpected {text[position]!r} at {position}")
    return selection


def _selection(text: str, position: int) -> tuple[Selection, int]:
    selection: Selection = {}
    while True:
        start = position
        while position < len(text) and (text[position].isalnum() or text[position] in "_/"):
            position += 1
        names = text[start:position].split("/")
        if not all(names):
            raise ValueError(f"fields {text!r}: empty name at {start}")
        sub: Selection | None = None
        if position < len(text) and text[position] == "(":
            sub, position = _selection(text, position + 1)
            if position >= len(text) or text[position] != ")":
                raise ValueError(f"fields {text!r}: unclosed parenthesis")
            position += 1
        node = selection
        for name in names[:-1]:
            child = node.setdefault(name, {})
            if child is None:
                break
            node = child
        else:
            node[names[-1]] = sub
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        return selection, position


def select(value: Any, selection: Selection | None) -> Any:
    if selection is None:
        return value
    if isinstance(value, list):
        return [select(item, selection) for item in value]
    if isinstance(value, dict):
        return {k: select(value[k], sub) for k, sub in selection.items() if k in value}
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    @property
    def emulator(self) -> GoogleEmulator:
        emulator: GoogleEmulator = self.server.emulator  # type: ignore[attr-defined]
        return emulator

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if urlsplit(self.path).path != "/token":
            self._answer(*self.emulator.unknown(f"POST {self.path}"))
            return
        form = {key: values[0] for key, values in parse_qs(body).items()}
        self._answer(*self.emulator.token(form))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        params = {key: values[0] for key, values in query.items()}
        authorization = self.headers.get("Authorization", "")
        group_key = _group_key(parts.path)
        if group_key and not any(len(v) > 1 for v in query.values()):
            self._answer(*self.emulator.list_members(group_key, params, authorization))
            return
        user_key = _user_key(parts.path)
        if user_key and not any(len(v) > 1 for v in query.values()):
            self._answer(*self.emulator.get_user(user_key, params, authorization))
            return
        if parts.path != USERS_PATH or any(len(v) > 1 for v in query.values()):
            self._answer(*self.emulator.unknown(f"GET {self.path}"))
            return
        self._answer(*self.emulator.list_users(params, authorization))

    def do_PUT(self) -> None:
        self._answer(*self.emulator.unknown(f"PUT {self.path}"))

    do_DELETE = do_PATCH = do_PUT

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the emulator's records instead."""


def make_user(number: int, **fields: Any) -> dict[str, Any]:
    """A user resource as Google returns it with projection basic; `fields` replace keys."""
    email = f"user{number:05d}@example.com"
    user: dict[str, Any] = {
        "kind": "admin#directory#user",
        "id": f"10{number:019d}",
        "etag": f'"etag-{number}"',
        "primaryEmail": email,
        "name": {
            "givenName": f"Given{number}",
            "familyName": f"Family{number}",
            "fullName": f"Given{number} Family{number}",
        },
        "isAdmin": False,
        "isDelegatedAdmin": False,
        "lastLoginTime": "2026-01-05T09:00:00.000Z",
        "creationTime": "2024-04-01T00:00:00.000Z",
        "agreedToTerms": True,
        "suspended": False,
        "archived": False,
        "changePasswordAtNextLogin": False,
        "emails": [{"address": email, "primary": True}],
        "externalIds": [{"value": f"E{number:05d}", "type": "organization"}],
        "customerId": "C01emulat",
        "orgUnitPath": "/",
        "isMailboxSetup": True,
        "includeInGlobalAddressList": True,
    }
    user.update(fields)
    return user
