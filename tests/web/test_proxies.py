"""SPEC §15: no proxy is trusted unless named. `clomo-sync web` as a real process: a client that
rotates X-Forwarded-For is still one address to the rate limit; a named proxy's header counts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.entry.web.paths import FORGOT
from tests.support.configs import person, table, write_config, write_users
from tests.web.mailbox import free_port
from tests.web.test_browser import ROOT, _wait_until_serving

LIMIT = 5


def serve(root: Path, web: dict[str, object]) -> Iterator[str]:
    write_users(root / "users.csv", [person(1)])
    port = free_port()
    tenant = {
        "id": "acme",
        "reset_url": f"http://127.0.0.1:{port}/password/reset?token={{token}}",
        "source": {"kind": "csv", "path": str(root / "users.csv")},
    }
    config = write_config(root / "clomo-sync.toml", f"sqlite:///{root}/store.db",
                          root / "outbox", [tenant])  # fmt: skip
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[web]", {"address_limit": f"{LIMIT}/minute", **web}))
    log = root / "web.log"
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "sync", "--config", str(config), "web", "--port", str(port)],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_serving(server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def unproxied(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, {})


@pytest.fixture
def behind_a_proxy(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, {"trusted_proxies": ["127.0.0.1"]})


def statuses(base: str, count: int) -> list[int]:
    """`count` page requests, each claiming another client address."""
    with httpx.Client(base_url=base) as client:
        return [
            client.get(FORGOT, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(1, count + 1)
        ]


def test_a_rotating_forwarded_for_is_one_address_by_default(unproxied: str) -> None:
    assert statuses(unproxied, LIMIT + 2) == [200] * LIMIT + [429, 429]


def test_a_named_proxy_passes_on_the_client_address(behind_a_proxy: str) -> None:
    assert statuses(behind_a_proxy, LIMIT + 2) == [200] * (LIMIT + 2)
