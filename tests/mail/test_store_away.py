"""The store goes away just as the SMTP server accepts a message (PostgreSQL stopped, a cluster of
the test's own): the deliverer keeps asking until the store is back and records the message as
sent, so the next delivery does not send it again (docs/accounts_and_email.md, "Exactly once, and
the one window")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mail.conftest import MailWorkspace, StartServer, new_workspace
from tests.mail.smtp_server import Sink
from tests.ops.conftest import Watched, wait_for
from tests.support.private_postgres import Cluster, private_cluster

RETRYING = "was accepted; recording it as sent"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with private_cluster("mail") as running:
        yield running


def test_a_store_away_after_acceptance_is_waited_for_and_nothing_is_sent_twice(
    tmp_path: Path, cluster: Cluster, smtp: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = new_workspace(tmp_path, cluster.url("mail"), capsys)
    stopped = threading.Event()

    def stop_store_on_third(envelope: Any) -> str | None:
        if len(server.sink.received) == 2 and not stopped.is_set():
            cluster.stop()  # before the server's 250 reaches the deliverer
            stopped.set()
        return None

    server = smtp(sink=Sink(on_data=lambda envelope: "451 4.3.0 not yet"))
    ws.use(server)
    ws.sync()  # queued, every message deferred once
    ws.engine.dispose()
    server.sink.on_data = stop_store_on_third
    deliverer = Watched(ws.config, "deliver", "--flush")
    deliverer.wait_for(RETRYING)  # it asks the store again rather than give up
    cluster.start_again()
    deliverer.finish(120)
    # the store came back without the deliverer's lock: a later pass sends the rest
    later: list[dict[str, Any]] = []
    wait_for(lambda: _delivered(ws, later), 30, "the stopped session's lock freed")
    counts = server.sink.per_message_id()
    rows = ws.outbox_rows()
    assert [counts[r.message_id] for r in rows] == [1] * len(rows)
    assert {r.status for r in rows} == {"sent"}
    assert later[0]["sent"] == len(rows) - 3
    ws.engine.dispose()


def _delivered(ws: MailWorkspace, passes: list[dict[str, Any]]) -> bool:
    result = ws.deliver("--flush")
    if result["skipped_locked"]:
        return False
    passes.append(result)
    return True
