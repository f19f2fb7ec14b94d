"""A server that is down, answers 4xx or 5xx, or drops the connection: nothing is lost, nothing
arrives twice, and what is given up on is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sync.services.resets import TokenHolder, check_token
from sync.timeutil import utc_now
from tests.mail.conftest import MailWorkspace, StartServer, token_in
from tests.mail.smtp_server import DROP, Sink, free_port
from tests.support.configs import person

ROOT = Path(__file__).resolve().parents[2]


def test_server_down_loses_nothing_and_each_arrives_once_when_back(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    """A down server spends no message's attempt: the pass ends at the first connection refused,
    says so in one line, and `deliver` exits 1 until the server is back."""
    port = free_port()  # nothing listens here yet
    mail_ws.mail = {"delivery": "smtp", "smtp_port": port, "retry_base_seconds": 3600}
    mail_ws.configure()
    result = mail_ws.cli("sync", "--tenant", "acme")
    assert result.code == 0  # the run did its work; the mail waits
    email = [line for line in result.out.splitlines() if line.startswith("email:")]
    assert email == [
        "email: 0 delivered, 0 failed, 0 to retry, 5 pending in all; the server is unreachable; "
        f"the rest waits for the next delivery: cannot reach SMTP server 127.0.0.1:{port}: "
        "[Errno 111] Connection refused"
    ]
    assert "  ! " not in result.out
    rows = mail_ws.outbox_rows()
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [("pending", 0, None)] * 5
    assert all(r.token for r in rows)
    down = mail_ws.deliver(code=1)
    assert (down["stopped"], down["pending"], down["failures"]) == ("unreachable", 5, [])
    assert [r.attempts for r in mail_ws.outbox_rows()] == [0] * 5

    server = smtp(port=port)
    assert mail_ws.deliver()["sent"] == 5  # due all along: nothing waited a back-off
    assert mail_ws.deliver("--flush")["sent"] == 0
    assert sorted(server.sink.per_message_id().values()) == [1] * 5
    assert {r.message_id for r in server.sink.received} == {r.message_id for r in rows}
    with mail_ws.engine.connect() as conn:
        for message in server.sink.received:
            assert isinstance(check_token(conn, token_in(message), utc_now()), TokenHolder)


def test_4xx_is_retried_and_the_message_arrives_once(
    lite_ws: MailWorkspace, smtp: StartServer
) -> None:
    deferred: set[str] = set()

    def once_later(envelope: Any) -> str | None:
        message_id = _message_id(envelope.original_content)
        if message_id in deferred:
            return None
        deferred.add(message_id)
        return "451 4.3.0 try again later"

    server = smtp(sink=Sink(on_data=once_later))
    lite_ws.use(server)
    lite_ws.sync()
    assert server.sink.received == [] and len(deferred) == 5
    assert [(r.status, r.attempts) for r in lite_ws.outbox_rows()] == [("pending", 1)] * 5
    assert "451" in lite_ws.outbox_rows()[0].last_error
    assert lite_ws.deliver("--flush")["sent"] == 5
    assert sorted(server.sink.per_message_id().values()) == [1] * 5
    assert [(r.status, r.attempts) for r in lite_ws.outbox_rows()] == [("sent", 2)] * 5


def test_5xx_fails_at_once_and_is_reported(lite_ws: MailWorkspace, smtp: StartServer) -> None:
    server = smtp(sink=Sink(on_rcpt=lambda a: "550 5.1.1 no such user" if "user2" in a else None))
    lite_ws.use(server)
    report = lite_ws.sync()
    assert len(server.sink.received) == 4
    failed = [r for r in lite_ws.outbox_rows() if r.status == "failed"]
    assert [(r.to_address, r.attempts, r.token) for r in failed] == [("user2@example.com", 1, None)]
    listed = lite_ws.deliver()
    assert listed["failed_total"] == 1
    assert [(m["to"], m["kind"]) for m in listed["failed_messages"]] == [
        ("user2@example.com", "account_created")
    ]
    assert "550" in listed["failed_messages"][0]["error"]
    _runs_show_failed(lite_ws, report["run_id"], 1)
    # the failed invitation is owed again only once the person has another address (SPEC §10)
    assert lite_ws.sync()["counts"]["emails_queued"] == 0
    lite_ws.users([person(1), person(2, primary_email="user2@mail.example.com"),
                   *(person(n) for n in range(3, 6))])  # fmt: skip
    assert lite_ws.sync()["counts"]["emails_queued"] == 1
    assert lite_ws.outbox_rows()[-1].to_address == "user2@mail.example.com"


def _runs_show_failed(ws: MailWorkspace, run_id: str, count: int) -> None:
    runs = ws.cli("runs", "list", "--tenant", "acme", "--json")
    assert [r["emails_failed"] for r in _json(runs.out) if r["run_id"] == run_id] == [count]
    text = ws.cli("runs", "list", "--tenant", "acme").out
    emails = "email" if count == 1 else "emails"
    assert f"emails_failed={count}" in text and f"! acme: {count} {emails} failed" in text


def test_max_attempts_then_failed(lite_ws: MailWorkspace, smtp: StartServer) -> None:
    server = smtp(sink=Sink(on_data=lambda envelope: "452 4.3.1 mailbox busy"))
    lite_ws.use(server, max_attempts=3)
    report = lite_ws.sync()
    assert lite_ws.deliver("--flush")["retrying"] == 5
    last = lite_ws.deliver("--flush", code=1)
    assert last["failed"] == 5 and last["failed_total"] == 5
    assert all(f["final"] and f["attempts"] == 3 for f in last["failures"])
    assert {(r.status, r.attempts, r.token) for r in lite_ws.outbox_rows()} == {("failed", 3, None)}
    assert len(server.sink.refused) == 15
    assert lite_ws.deliver("--flush")["sent"] == 0 and len(server.sink.refused) == 15
    _runs_show_failed(lite_ws, report["run_id"], 5)


def test_a_dropped_connection_is_reopened_for_the_rest_of_the_batch(
    lite_ws: MailWorkspace, smtp: StartServer
) -> None:
    seen: list[str] = []

    def drop_on_second(envelope: Any) -> str | None:
        seen.append(_message_id(envelope.original_content))
        return DROP if len(seen) == 2 else None

    server = smtp(sink=Sink(on_data=drop_on_second))
    lite_ws.use(server)
    lite_ws.sync()
    assert len(server.sink.received) == 4
    assert len({r.peer for r in server.sink.received}) == 2  # a new connection after the drop
    rows = lite_ws.outbox_rows()
    assert [(r.status, r.attempts) for r in rows][1] == ("pending", 1)
    assert "SMTP connection lost" in rows[1].last_error
    assert lite_ws.deliver("--flush")["sent"] == 1
    assert sorted(server.sink.per_message_id().values()) == [1] * 5


def test_crash_after_acceptance_resends_only_that_message(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    """The documented window: the server accepted message 3, the worker died before recording
    it. The next delivery sends message 3 again (same Message-ID) and nothing else twice."""
    worker: list[subprocess.Popen[bytes]] = []

    def kill_on_third(envelope: Any) -> str | None:
        if len(server.sink.received) == 2 and worker:
            os.kill(worker[0].pid, signal.SIGKILL)  # before the server's 250 reaches it
        return None

    server = smtp(sink=Sink(on_data=lambda envelope: "451 4.3.0 not yet"))
    mail_ws.use(server)
    mail_ws.sync()  # queued, every message deferred once
    server.sink.on_data = kill_on_third
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "sync", "--config", str(mail_ws.config), "deliver", "--flush"]
    worker.append(subprocess.Popen(command, env=env, cwd=ROOT))
    assert worker[0].wait(timeout=60) == -signal.SIGKILL
    assert len(server.sink.received) == 3
    assert [r.status for r in mail_ws.outbox_rows()] == ["sent", "sent"] + ["pending"] * 3
    deadline = time.monotonic() + 10
    while (result := mail_ws.deliver("--flush"))["skipped_locked"]:
        assert time.monotonic() < deadline  # PostgreSQL frees the dead worker's lock
        time.sleep(0.1)
    assert result["sent"] == 3
    counts = server.sink.per_message_id()
    rows = mail_ws.outbox_rows()
    assert [counts[r.message_id] for r in rows] == [1, 1, 2, 1, 1]
    assert {r.status for r in rows} == {"sent"}


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")


def _json(text: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(text)
    return data
