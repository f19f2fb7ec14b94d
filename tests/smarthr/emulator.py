"""A SmartHR API wire emulator on 127.0.0.1 for tests (plain HTTP on the loopback).

It speaks what developer.smarthr.jp/api/about_api documents for `GET /api/v1/crews` and
`GET /api/v1/crews/{id}` (the crew, or 404 `not_found`): a bearer
access token (`Authorization: Bearer TOKEN`; 401 `unauthorized_token` otherwise), paging by `page`
and `per_page` (at most 100; 400 `bad_request` beyond) with a `Link` header (`first`, `prev`,
`next`, `last`, absolute URLs) and `x-total-count`, the rate-limit headers `x-rate-limit-limit`,
`x-rate-limit-remaining` and `x-rate-limit-reset` on every answer, and error bodies
`{"code", "type", "message", "errors"}`. Faults are scripted per crews request number
(`script[n]`: "429", "503", "401", "403", "500"); `after_page` runs after a page is served (a
crew joining or leaving mid-read). Any request it does not know (another path, method or query
parameter) is answered 500 and recorded in `unknown`, which the fixture checks.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.support.tls_http import JsonHandler, Served, serve_http

TOKEN = "shr_test_0123456789abcdef"  # a test token: the emulator's only valid one
CREWS_PATH = "/api/v1/crews"
KNOWN_PARAMS = {"page", "per_page"}
RATE_LIMIT = 5000  # documented as requests per hour per token
# code, type, status and message as SmartHR documents them
ERRORS: dict[str, tuple[int, str, int, str]] = {
    "400": (1, "bad_request", 400, "リクエストパラメータの内容が不正です"),
    "404": (4, "not_found", 404, "リソースが見つかりませんでした"),
    "401": (2, "unauthorized_token", 401, "無効なアクセストークンです"),
    "403": (3, "forbidden", 403, "リソースへのアクセスが禁止されています"),
    "500": (5, "internal_server_error", 500, "システム内部で予期せぬエラーが発生しました"),
    "429": (6, "too_many_requests", 429, "リクエスト制限の上限を超えました"),
    "503": (9, "service_maintenance", 503, "メンテナンスを行っています"),
}


def make_crew(n: int, **fields: Any) -> dict[str, Any]:
    """A crew as the crews API returns it (the fields the source reads, and a few it ignores)."""
    crew: dict[str, Any] = {
        "id": f"c0a8{n:08d}-0000-4000-8000-000000000000",
        "user_id": f"u-{n}",
        "emp_code": f"E{n:05d}",
        "emp_type": "board_member" if n == 1 else "fulltime",
        "emp_status": "employed",
        "last_name": f"山田{n}",
        "first_name": "太郎",
        "last_name_yomi": "ヤマダ",
        "first_name_yomi": "タロウ",
        "business_last_name": None,
        "business_first_name": None,
        "business_last_name_yomi": None,
        "business_first_name_yomi": None,
        "email": f"crew{n}@example.co.jp",
        "entered_at": "2020-04-01",
        "resigned_at": None,
        "departments": [
            {"id": "d-sales", "name": "営業部", "full_name": "本社/営業部", "position": 1}
        ]
        if n % 2
        else [{"id": "d-dev", "name": "開発部", "full_name": "本社/開発部", "position": 1}],
        "updated_at": "2026-11-01T09:00:00.000+09:00",
    }
    crew.update(fields)
    return crew


class Garbled(Exception):
    """A 200 answer whose body is not the page (`body`, as it is sent)."""

    def __init__(self, body: bytes) -> None:
        super().__init__("garbled")
        self.body = body


class Refusal(Exception):
    def __init__(self, kind: str, headers: dict[str, str] | None = None) -> None:
        code, type_, status, message = ERRORS[kind]
        super().__init__(type_)
        self.status, self.headers = status, headers or {}
        self.body = {"code": code, "type": type_, "message": message, "errors": None}


@dataclass
class SmartHrEmulator(Served):
    scheme = "http"

    crews: list[dict[str, Any]] = field(default_factory=list)
    token: str = TOKEN
    script: dict[int, str] = field(default_factory=dict)
    rate_limit_reset: int = 0  # the x-rate-limit-reset of a scripted 429
    # crews request number -> a 200 answer's body served instead of the page (a proxy's page)
    garbled: dict[int, bytes] = field(default_factory=dict)
    after_page: Callable[[int], None] | None = None
    # what happened
    unknown: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    crew_requests: int = 0
    remaining: int = RATE_LIMIT
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SmartHrEmulator:
        self.server, self.thread, self.port = serve_http(self, _Handler)
        return self

    def crew(self, n: int) -> dict[str, Any]:
        return next(c for c in self.crews if c.get("emp_code") == f"E{n:05d}")

    def _admit(self, headers: Any) -> dict[str, str]:
        """Counts a crews request, checks its token and its scripted fault; the rate headers."""
        with self.lock:
            self.crew_requests += 1
            number = self.crew_requests
            self.remaining = max(0, self.remaining - 1)
        limits = {
            "x-rate-limit-limit": str(RATE_LIMIT),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.rate_limit_reset),
        }
        if headers.get("Authorization", "") != f"Bearer {self.token}":
            raise Refusal("401", limits)
        fault = self.script.get(number)
        if fault is not None:
            raise Refusal(fault, limits)
        return limits

    def one_crew(self, crew_id: str, headers: Any) -> tuple[Any, dict[str, str]]:
        """`GET /api/v1/crews/{id}`: the crew, or 404 `not_found`."""
        limits = self._admit(headers)
        for crew in self.crews:
            if crew.get("id") == crew_id:
                return crew, limits
        raise Refusal("404", limits)

    def crews_page(self, query: dict[str, list[str]], headers: Any) -> tuple[Any, dict[str, str]]:
        limits = self._admit(headers)
        instead = self.garbled.get(self.crew_requests)
        if instead is not None:
            raise Garbled(instead)
        try:
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", ["10"])[0])
        except ValueError:
            raise Refusal("400", limits) from None
        if page < 1 or not 1 <= per_page <= 100:
            raise Refusal("400", limits)
        rows = list(self.crews)
        body = rows[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(rows) // per_page))
        links = {"first": 1, "last": last}
        if page > 1:
            links["prev"] = page - 1
        if page < last:
            links["next"] = page + 1
        link = ", ".join(
            f'<{self.url}{CREWS_PATH}?{urlencode({"page": n, "per_page": per_page})}>; rel="{rel}"'
            for rel, n in links.items()
        )
        if self.after_page is not None:
            self.after_page(page)
        return body, {**limits, "Link": link, "x-total-count": str(len(rows))}


class _Handler(JsonHandler):
    emulator: SmartHrEmulator

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.emulator.requests.append((parts.path, query))
        one = re.fullmatch(rf"{CREWS_PATH}/([^/]+)", parts.path)  # GET /api/v1/crews/{id}
        known = KNOWN_PARAMS if parts.path == CREWS_PATH else set()
        if not (one or parts.path == CREWS_PATH) or set(query) - known:
            self._unknown()
            return
        try:
            if one:
                body, headers = self.emulator.one_crew(unquote(one[1]), self.headers)
            else:
                body, headers = self.emulator.crews_page(query, self.headers)
            self._json(200, body, headers)
        except Garbled as garbled:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(garbled.body)))
            self.end_headers()
            self.wfile.write(garbled.body)
        except Refusal as refusal:
            self._json(refusal.status, refusal.body, refusal.headers)

    def do_POST(self) -> None:
        self._unknown()

    def _unknown(self) -> None:
        self.emulator.unknown.append(f"{self.command} {self.path}")
        self._json(500, ERRORS["500"][3])
