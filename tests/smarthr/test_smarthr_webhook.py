"""`POST /hooks/smarthr/{tenant}` (SPEC §16) on SQLite and PostgreSQL: a valid X-SmartHR-Token
queues a run that this process makes in the background (no fleet serves these stores); a wrong
or missing one answers 401, queues nothing and is logged without the token; a body over 1 MiB is
refused; a flood of 1,000 posts makes one or two runs."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from sync.store.engine import open_store
from tests.conftest import Workspace
from tests.ops.conftest import wait_for
from tests.smarthr.conftest import WEBHOOK_TOKEN, smarthr_keys
from tests.smarthr.emulator import SmartHrEmulator
from tests.web.conftest import RESET_URL, Pages

HOOK = "/hooks/smarthr/acme"


@pytest.fixture
def hooked(workspace: Workspace, emulator: SmartHrEmulator) -> Pages:
    workspace.configure(reset_url=RESET_URL, source=smarthr_keys(emulator))
    assert workspace.sync()["status"] == "succeeded"
    return Pages(workspace, open_store(workspace.database_url))


def runs(pages: Pages) -> int:
    with pages.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one())


def client(pages: Pages, settle: float = 0.3) -> TestClient:
    return pages.client(pages.app(webhook_settle_seconds=settle))


def settled(http: TestClient) -> None:
    console = http.app.app.state.console  # type: ignore[attr-defined]  # inside the Guard
    wait_for(lambda: not console.running("acme"), 60, "the webhook's run to end")


def test_a_valid_call_makes_a_run_that_reads_smarthr(
    hooked: Pages, emulator: SmartHrEmulator
) -> None:
    emulator.crew(2)["business_last_name"] = "佐藤"
    before, read_before = runs(hooked), emulator.crew_requests
    with client(hooked) as http:
        answer = http.post(HOOK, headers={"X-SmartHR-Token": WEBHOOK_TOKEN}, json={"event": "x"})
        assert answer.status_code == 202 and answer.json() == {"run": "started"}
        wait_for(lambda: runs(hooked) == before + 1, 60, "the webhook's run")
        settled(http)
    assert emulator.crew_requests > read_before
    assert hooked.account("crew2")["family_name"] == "佐藤"
    hooked.engine.dispose()


@pytest.mark.parametrize("token", [None, "whk_wrong", WEBHOOK_TOKEN + "x", ""])
def test_a_wrong_or_missing_token_is_401_and_queues_nothing(
    hooked: Pages,
    emulator: SmartHrEmulator,
    caplog: pytest.LogCaptureFixture,
    token: str | None,
) -> None:
    before, read_before = runs(hooked), emulator.crew_requests
    headers = {} if token is None else {"X-SmartHR-Token": token}
    with caplog.at_level(logging.INFO), client(hooked) as http:
        answer = http.post(HOOK, headers=headers, content=b"{}")
        other = http.post("/hooks/smarthr/nobody", headers={"X-SmartHR-Token": WEBHOOK_TOKEN})
        assert not http.app.app.state.console.running("acme")  # type: ignore[attr-defined]
    assert (answer.status_code, other.status_code) == (401, 401)
    assert (runs(hooked), emulator.crew_requests) == (before, read_before)
    assert "refused" in caplog.text and WEBHOOK_TOKEN not in caplog.text
    if token:
        assert token not in caplog.text
    hooked.engine.dispose()


def test_a_body_over_one_mebibyte_is_refused(hooked: Pages) -> None:
    with client(hooked) as http:
        fits = http.post(
            HOOK, headers={"X-SmartHR-Token": "whk_wrong"}, content=b"x" * (1024 * 1024)
        )
        big = http.post(
            HOOK, headers={"X-SmartHR-Token": WEBHOOK_TOKEN}, content=b"x" * (1024 * 1024 + 1)
        )
    assert (fits.status_code, big.status_code) == (401, 413)
    hooked.engine.dispose()


def test_a_flood_of_a_thousand_posts_makes_one_or_two_runs(
    hooked: Pages, emulator: SmartHrEmulator
) -> None:
    before = runs(hooked)
    with client(hooked, settle=0.5) as http:
        answers = {
            http.post(HOOK, headers={"X-SmartHR-Token": WEBHOOK_TOKEN}).status_code
            for _ in range(1000)
        }
        wait_for(lambda: runs(hooked) > before, 60, "the flood's run")
        settled(http)
    assert answers == {202}
    assert 1 <= runs(hooked) - before <= 2
    hooked.engine.dispose()
