"""A Salesforce wire emulator on 127.0.0.1 for tests: OAuth JWT bearer and SOAP login, and the REST
query endpoint with `nextRecordsUrl` paging, speaking Salesforce's real paths, JSON and error codes.

It serves TLS with a certificate the test generated, so simple-salesforce's https:// URLs work
unchanged. Any request it does not know is answered 404 and recorded in `unknown`; the fixture
fails the test when that list is not empty. Faults are scripted per data request number:
`script[n]` is one of "expire" (every session becomes invalid first), "limit"
(REQUEST_LIMIT_EXCEEDED), "503", "drop" (connection closed without an answer), "truncate" (the
page claims to be the last one). Public groups (`groups`: Id, DeveloperName, Type) and their
members (`group_members`: Id, GroupId, UserOrGroupId) answer the two queries the source sends:
the public groups by Type, and GroupMember rows by `GroupId IN (…)`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.support.tls_http import Served, serve_tls

USER_FIELDS = (
    "Id",
    "Username",
    "Email",
    "FirstName",
    "LastName",
    "Name",
    "EmployeeNumber",
    "FederationIdentifier",
    "IsActive",
    "SystemModstamp",
    "UserType",
)
CANONICAL = {f.lower(): f for f in USER_FIELDS}
SOQL = re.compile(r"SELECT (?P<fields>.+?) FROM User(?: WHERE (?P<where>.+?))?(?: ORDER BY Id)?")
CONDITION = re.compile(r"(?P<field>\w+) (?P<op>=|!=|>=|<=|>|<) (?P<value>'[^']*'|\S+)")
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
GROUP_SOQL = "SELECT Id, DeveloperName FROM Group WHERE Type = 'Regular' ORDER BY Id"
MEMBER_SOQL = re.compile(
    r"SELECT GroupId, UserOrGroupId FROM GroupMember "
    r"WHERE GroupId IN \((?P<ids>'\w+'(?:, '\w+')*)\) ORDER BY Id"
)
DATA_PATH = re.compile(r"/services/data/v(?P<version>\d+\.\d)/query/?(?P<locator>[^/]*)")


def stamp(moment: datetime) -> str:
    """Salesforce's JSON form of a dateTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def make_user(n: int, modified: datetime, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": f"005{n:015d}",
        "Username": f"user{n}@acme.example.sfdc",
        "Email": f"user{n}@acme.example",
        "FirstName": f"First{n}",
        "LastName": f"Last{n}",
        "EmployeeNumber": f"E{n:04d}",
        "FederationIdentifier": f"fed-{n}",
        "IsActive": True,
        "SystemModstamp": stamp(modified),
        "UserType": "Standard",
    }
    record.update(fields)
    record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)
    return record


class QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SalesforceEmulator(Served):
    certfile: str
    keyfile: str
    public_key: bytes
    consumer_key: str = "3MVG9emulatedConsumerKey"
    username: str = "integration@acme.example.sfdc"
    password: str = "pa55-Word!"
    security_token: str = "TOKEN123"
    page_size: int = 2000
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    group_members: list[dict[str, Any]] = field(default_factory=list)
    script: dict[int, str] = field(default_factory=dict)
    always: str | None = None  # a fault answered to every data request from now on
    # what happened
    requests: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    sign_ins: int = 0
    data_requests: int = 0
    sessions: set[str] = field(default_factory=set)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def start(self) -> SalesforceEmulator:
        self.server, self.thread, self.port = serve_tls(self, _Handler, self.certfile, self.keyfile)
        return self

    # -- sign-in --------------------------------------------------------------------------------

    def oauth_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "grant type not supported",
            }
        try:
            unverified = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        if unverified.get("iss") != self.consumer_key:
            return 400, {
                "error": "invalid_client_id",
                "error_description": "client identifier invalid",
            }
        try:
            claims = jwt.decode(
                form["assertion"],
                self.public_key,
                algorithms=["RS256"],
                audience=self.url,
                issuer=self.consumer_key,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.InvalidAudienceError:
            return 400, {"error": "invalid_grant", "error_description": "audience is invalid"}
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "invalid assertion"}
        if int(claims["exp"]) > time.time() + 300:
            return 400, {"error": "invalid_grant", "error_description": "expiration is invalid"}
        if claims["sub"] != self.username:
            return 400, {
                "error": "invalid_grant",
                "error_description": "user hasn't approved this consumer",
            }
        return 200, {
            "access_token": self._new_session(),
            "scope": "api",
            "instance_url": self.url,
            "id": f"{self.url}/id/00D000000000001/005000000000000001",
            "token_type": "Bearer",
        }

    def soap_login(self, body: bytes) -> tuple[int, str]:
        ns = {"n1": "urn:partner.soap.sforce.com"}
        root = ET.fromstring(body)
        username = root.findtext(".//n1:username", namespaces=ns)
        password = root.findtext(".//n1:password", namespaces=ns)
        if username != self.username or password != self.password + self.security_token:
            return 500, _SOAP_FAULT
        return 200, _SOAP_OK.format(session=self._new_session(), url=self.url)

    def _new_session(self) -> str:
        self.sign_ins += 1
        token = "00D000000000001!" + secrets.token_urlsafe(24)
        self.sessions.add(token)
        return token

    # -- data -----------------------------------------------------------------------------------

    def data(self, path: str, query: dict[str, list[str]], auth: str) -> tuple[int, Any] | None:
        self.data_requests += 1
        fault = self.script.get(self.data_requests) or self.always
        if fault == "expire":
            self.sessions.clear()
        if fault == "drop":
            return None
        if not auth.startswith("Bearer ") or auth[7:] not in self.sessions:
            return 401, [
                {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
            ]
        if fault == "limit":
            return 403, [
                {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
            ]
        if fault == "503":
            return 503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
        match = DATA_PATH.fullmatch(path)
        assert match is not None
        try:
            if match["locator"]:
                locator, _, offset = match["locator"].rpartition("-")
                answer = self._page(match["version"], locator, int(offset))
            else:
                answer = self._query(match["version"], query.get("q", [""])[0])
        except QueryError as exc:
            return 400, [{"message": str(exc), "errorCode": exc.code}]
        except (KeyError, ValueError):
            return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
        if fault == "truncate":
            answer["done"] = True
            answer.pop("nextRecordsUrl", None)
        return 200, answer

    def _query(self, version: str, soql: str) -> dict[str, Any]:
        self.queries.append(soql)
        if soql.strip() == GROUP_SOQL:
            rows = sorted((g for g in self.groups if g["Type"] == "Regular"), key=lambda g: g["Id"])
            return self._rows(version, "Group", rows, ["Id", "DeveloperName"])
        members = MEMBER_SOQL.fullmatch(soql.strip())
        if members:
            ids = {i.strip("' ") for i in members["ids"].split(",")}
            rows = sorted((m for m in self.group_members if m["GroupId"] in ids),
                          key=lambda m: m["Id"])  # fmt: skip
            return self._rows(version, "GroupMember", rows, ["GroupId", "UserOrGroupId"])
        match = SOQL.fullmatch(soql.strip())
        if not match:
            raise QueryError("MALFORMED_QUERY", f"unexpected token in: {soql}")
        fields = [f.strip() for f in match["fields"].split(",")]
        for name in fields:
            if name.lower() not in CANONICAL:
                raise QueryError("INVALID_FIELD", f"No such column '{name}' on entity 'User'.")
        test = _where(match["where"]) if match["where"] else (lambda _r: True)
        rows = sorted((r for r in self.users if test(r)), key=lambda r: r["Id"])
        selected = [CANONICAL[f.lower()] for f in fields]
        result = [
            {
                "attributes": {
                    "type": "User",
                    "url": f"/services/data/v{version}/sobjects/User/{r['Id']}",
                },
                **{f: r.get(f) for f in selected},
            }
            for r in rows
        ]
        locator = f"01g{len(self.cursors) + 1:015d}"
        self.cursors[locator] = result
        return self._page(version, locator, 0)

    def _rows(
        self, version: str, kind: str, rows: list[dict[str, Any]], fields: list[str]
    ) -> dict[str, Any]:
        result = [
            {
                "attributes": {"type": kind, "url": f"/services/data/v{version}/sobjects/{kind}/"
                               f"{r['Id']}"},
                **{f: r[f] for f in fields},
            }
            for r in rows
        ]  # fmt: skip
        locator = f"01g{len(self.cursors) + 1:015d}"
        self.cursors[locator] = result
        return self._page(version, locator, 0)

    def _page(self, version: str, locator: str, offset: int) -> dict[str, Any]:
        rows = self.cursors[locator]
        end = offset + self.page_size
        answer: dict[str, Any] = {
            "totalSize": len(rows),
            "done": end >= len(rows),
            "records": rows[offset:end],
        }
        if end < len(rows):
            answer["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return answer


def _where(text: str) -> Any:
    """A tiny evaluator of `A AND B AND …` with comparisons; anything else is MALFORMED_QUERY."""
    tests = []
    for part in text.split(" AND "):
        part = part.strip()
        while part.startswith("(") and part.endswith(")"):
            part = part[1:-1].strip()
        match = CONDITION.fullmatch(part)
        if not match or match["field"].lower() not in CANONICAL:
            raise QueryError("MALFORMED_QUERY", f"unexpected token: '{part}'")
        tests.append((CANONICAL[match["field"].lower()], match["op"], _literal(match["value"])))

    def test(record: dict[str, Any]) -> bool:
        for name, op, value in tests:
            have = record.get(name)
            if isinstance(value, datetime):
                have = datetime.fromisoformat(have) if have else None
            if have is None or not _compare(have, op, value):
                return False
        return True

    return test


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if DATETIME.fullmatch(text):
        return datetime.fromisoformat(text)
    raise QueryError("MALFORMED_QUERY", f"unexpected token: '{text}'")


def _compare(have: Any, op: str, value: Any) -> bool:
    outcomes: dict[str, bool] = {
        "=": have == value,
        "!=": have != value,
        ">=": have >= value,
        "<=": have <= value,
        ">": have > value,
        "<": have < value,
    }
    return outcomes[op]


class _Handler(BaseHTTPRequestHandler):
    emulator: SalesforceEmulator
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write: no Nagle / delayed-ACK stall per answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.emulator.requests.append(("GET", parts.path))
        if DATA_PATH.fullmatch(parts.path):
            outcome = self.emulator.data(
                parts.path, parse_qs(parts.query), self.headers.get("Authorization", "")
            )
            if outcome is None:
                self.close_connection = True
                return
            self._send(outcome[0], "application/json", json.dumps(outcome[1]).encode())
            return
        self._unknown()

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.emulator.requests.append(("POST", parts.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if parts.path == "/services/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            status, answer = self.emulator.oauth_token(form)
            self._send(status, "application/json", json.dumps(answer).encode())
        elif re.fullmatch(r"/services/Soap/u/\d+\.\d", parts.path):
            status, text = self.emulator.soap_login(body)
            self._send(status, "text/xml; charset=utf-8", text.encode())
        else:
            self._unknown()

    def _unknown(self) -> None:
        self.emulator.unknown.append(f"{self.command} {self.path}")
        self._send(404, "application/json", b'[{"errorCode":"NOT_FOUND","message":"not emulated"}]')

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_SOAP_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>
<metadataServerUrl>{url}/services/Soap/m/59.0/00D000000000001</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>false</sandbox>
<serverUrl>{url}/services/Soap/u/59.0/00D000000000001</serverUrl>
<sessionId>{session}</sessionId><userId>005000000000000001</userId>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""

_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>
<faultcode>sf:INVALID_LOGIN</faultcode>
<faultstring>INVALID_LOGIN: {message}</faultstring>
<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>{message}</sf:exceptionMessage>
</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>""".format(
    message="Invalid username, password, security token; or user locked out."
)
