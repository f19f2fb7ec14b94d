"""The audit stream (SPEC §19) against real receivers: a TCP syslog server reading octet-counted
RFC 5424 frames (plain and TLS) and an HTTP server checking the HMAC signature; receivers that
are down, die mid-batch or hang; the streaming process restarted; two processes at once; and
PostgreSQL's commits out of id order."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from sync.config.audit import HttpsStream, SyslogStream
from sync.entry.cli import run as run_cli
from sync.services.audit_out import export_lines
from sync.services.audit_stream import AuditStream, sink_for
from sync.store import audit_cursor
from tests.ops.conftest import Watched, configure, small_directory, tenant, upgraded, wait_for
from tests.support.audit_receivers import HttpsReceiver, SyslogReceiver, first_arrivals
from tests.support.certs import make_server_tls
from tests.support.configs import person, table, write_users

FAST = {"poll_seconds": 0.1, "lease_seconds": 5, "retry_longest_seconds": 0.5}
NEVER = "0 0 1 1 *"  # tenants' schedule in the scheduler tests: the stream is all it does


def syslog(address: str, **keys: Any) -> SyslogStream:
    return SyslogStream.model_validate({"kind": "syslog", "address": address, **FAST, **keys})


@contextmanager
def streaming(settings: SyslogStream | HttpsStream, engine: Engine) -> Iterator[AuditStream]:
    stream = AuditStream(settings, engine, sink_for(settings))
    stream.start()
    try:
        yield stream
    finally:
        stream.stop()


def sync(config: Path, tenant_id: str = "t1") -> None:
    assert run_cli(["--config", str(config), "sync", "--tenant", tenant_id]) == 0


def exported(engine: Engine, tenant_id: str = "t1") -> list[dict[str, Any]]:
    return [json.loads(line) for line in export_lines(engine, tenant_id)]


def all_ids(engine: Engine) -> list[int]:
    return [e["id"] for e in exported(engine)]


def arrived_all(receiver: SyslogReceiver | HttpsReceiver, engine: Engine) -> bool:
    return set(all_ids(engine)) <= set(receiver.received.ids())


def assert_in_order_without_gap(ids: list[int], engine: Engine) -> None:
    """Every event arrived; at their first arrival, in id order (a duplicate may come later)."""
    assert first_arrivals(ids) == all_ids(engine)


def test_syslog_gets_every_event_in_order_as_rfc5424_json(tmp_path: Path, any_store: str) -> None:
    csv = small_directory(tmp_path / "u.csv", 20)
    config = configure(tmp_path, any_store, [tenant("t1", csv)])
    engine = upgraded(any_store)
    receiver = SyslogReceiver()
    with streaming(syslog(receiver.address), engine):
        sync(config)
        write_users(csv, [person(n, active="false" if n < 3 else "true") for n in range(20)])
        sync(config)
        wait_for(lambda: arrived_all(receiver, engine), 30, "every event at the receiver")
    assert receiver.received.problems == []
    events = exported(engine)
    assert [e["action"] for e in events].count("created") == 20
    assert [e["action"] for e in events].count("disabled") == 3
    assert receiver.received.events == events  # nothing sent twice when nothing failed
    for header, event in zip(receiver.received.headers, events, strict=True):
        assert header["app"] == "clomo-sync" and header["msgid"] == event["action"]
        assert header["pri"] == "110" and header["proc"] == str(os.getpid())
        assert header["ts"] == event["at"].replace("+00:00", "Z")
    assert set(events[0]) == {"id", "at", "tenant", "actor", "action", "account", "fields"}
    assert audit_cursor.position(engine)[0] == events[-1]["id"]


def test_a_receiver_down_then_up_and_one_dying_mid_batch_lose_nothing(
    tmp_path: Path, any_store: str
) -> None:
    csv = small_directory(tmp_path / "u.csv", 30)
    config = configure(tmp_path, any_store, [tenant("t1", csv)])
    engine = upgraded(any_store)
    receiver = SyslogReceiver()
    receiver.refuse = True
    with streaming(syslog(receiver.address, batch_size=10), engine):
        sync(config)
        wait_for(lambda: receiver.connections >= 3, 30, "three refused attempts")
        assert receiver.received.ids() == []
        receiver.die_after = 4  # the next connection reads four frames, then crashes
        receiver.refuse = False
        wait_for(lambda: arrived_all(receiver, engine), 30, "every event after the outage")
    ids = receiver.received.ids()
    assert_in_order_without_gap(ids, engine)
    assert len(ids) > len(set(ids))  # the four frames read before the crash came again


def test_https_batches_are_signed_and_retried_after_failures(
    tmp_path: Path, any_store: str, monkeypatch: Any
) -> None:
    csv = small_directory(tmp_path / "u.csv", 25)
    config = configure(tmp_path, any_store, [tenant("t1", csv)])
    engine = upgraded(any_store)
    receiver = HttpsReceiver("k" * 40)
    receiver.fail = 3
    settings = HttpsStream.model_validate(
        {"kind": "https", "url": receiver.url, "secret_env": "AUDIT_KEY", "batch_size": 10, **FAST}
    )
    monkeypatch.setenv("AUDIT_KEY", "k" * 40)
    with streaming(settings, engine):
        sync(config)
        wait_for(lambda: arrived_all(receiver, engine), 30, "every event")
    receiver.stop()
    assert receiver.received.problems == []
    assert receiver.requests >= 3 + 3  # three refused, then three batches of ten or fewer
    assert receiver.received.ids() == all_ids(engine)  # a refused batch counts for nothing


def test_a_hung_receiver_does_not_hold_a_run_up(
    tmp_path: Path, any_store: str, monkeypatch: Any
) -> None:
    csv = small_directory(tmp_path / "u.csv", 10)
    config = configure(tmp_path, any_store, [tenant("t1", csv)])
    engine = upgraded(any_store)
    receiver = HttpsReceiver("s" * 40)
    receiver.gate.clear()
    settings = HttpsStream.model_validate(
        {"kind": "https", "url": receiver.url, "secret_env": "AUDIT_KEY_HUNG", **FAST,
         "timeout_seconds": 300}
    )  # fmt: skip
    monkeypatch.setenv("AUDIT_KEY_HUNG", "s" * 40)
    try:
        with streaming(settings, engine):
            sync(config)
            wait_for(lambda: receiver.requests == 1, 30, "the stream's first POST")
            write_users(csv, [person(n, active="false" if n < 2 else "true") for n in range(10)])
            sync(config)  # returns while the receiver still holds the first batch
            assert receiver.requests == 1 and receiver.received.ids() == []
            receiver.gate.set()
            wait_for(lambda: arrived_all(receiver, engine), 30, "every event once it answers")
    finally:
        receiver.stop()
    assert_in_order_without_gap(receiver.received.ids(), engine)


def test_tls_syslog_with_a_private_ca(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    csv = small_directory(tmp_path / "u.csv", 5)
    config = configure(tmp_path, url, [tenant("t1", csv)])
    engine = upgraded(url)
    tls = make_server_tls(tmp_path / "tls")
    receiver = SyslogReceiver(tls=(str(tls.cert), str(tls.key)))
    settings = syslog(receiver.address, tls=True, ca_file=str(tls.ca_cert))
    with streaming(settings, engine):
        sync(config)
        wait_for(lambda: arrived_all(receiver, engine), 30, "every event over TLS")
    assert receiver.received.problems == []
    assert receiver.received.ids() == all_ids(engine)


def test_https_with_a_private_ca(tmp_path: Path, monkeypatch: Any) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    config = configure(tmp_path, url, [tenant("t1", small_directory(tmp_path / "u.csv", 5))])
    engine = upgraded(url)
    tls = make_server_tls(tmp_path / "tls")
    receiver = HttpsReceiver("t" * 40, tls=(str(tls.cert), str(tls.key)))
    monkeypatch.setenv("AUDIT_KEY_TLS", "t" * 40)
    keys = {"kind": "https", "url": receiver.url, "secret_env": "AUDIT_KEY_TLS", **FAST}
    with streaming(HttpsStream.model_validate({**keys, "ca_file": str(tls.ca_cert)}), engine):
        sync(config)
        wait_for(lambda: arrived_all(receiver, engine), 30, "every event over HTTPS")
    assert receiver.received.ids() == all_ids(engine) and receiver.received.problems == []
    receiver.stop()


def scheduler_config(root: Path, url: str, csv: Path, receiver: SyslogReceiver) -> Path:
    config = configure(root, url, [tenant("t1", csv, schedule=NEVER)], {"heartbeat_seconds": 1})
    # a lease of 10 s: a holder renews every 5 s, which a loaded machine never delays that long
    stream = {"kind": "syslog", "address": receiver.address, **FAST, "lease_seconds": 10}
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[audit.stream]", stream))
    return config


def started(config: Path) -> Watched:
    process = Watched(config, "-v", "scheduler")
    process.wait_for("holds the cursor")
    return process


def test_a_restarted_process_resumes_from_the_cursor(tmp_path: Path, any_store: str) -> None:
    csv = small_directory(tmp_path / "u.csv", 10)
    receiver = SyslogReceiver()
    config = scheduler_config(tmp_path, any_store, csv, receiver)
    engine = upgraded(any_store)
    first = started(config)
    sync(config)
    wait_for(lambda: arrived_all(receiver, engine), 30, "the first run's events")
    first.process.send_signal(signal.SIGTERM)
    assert first.finish(60).code == 0
    sent, holder = audit_cursor.position(engine)
    assert sent == all_ids(engine)[-1] and holder is None  # a stopping process lets go
    write_users(csv, [person(n, active="false" if n < 4 else "true") for n in range(10)])
    sync(config)  # nobody streams meanwhile
    assert len(receiver.received.ids()) == 10
    second = started(config)
    wait_for(lambda: arrived_all(receiver, engine), 30, "the second run's events")
    second.process.send_signal(signal.SIGTERM)
    assert second.finish(60).code == 0
    assert receiver.received.ids() == all_ids(engine)  # resumed after the cursor, nothing again


def test_two_processes_one_sends_at_a_time_and_the_other_takes_over(
    tmp_path: Path, any_store: str
) -> None:
    csv = small_directory(tmp_path / "u.csv", 10)
    receiver = SyslogReceiver()
    config = scheduler_config(tmp_path, any_store, csv, receiver)
    engine = upgraded(any_store)
    one = started(config)
    other = Watched(config, "-v", "scheduler")
    other.wait_for("scheduler ")
    sync(config)
    wait_for(lambda: arrived_all(receiver, engine), 30, "the first run's events")
    assert {h["proc"] for h in receiver.received.headers} == {str(one.process.pid)}
    one.process.send_signal(signal.SIGKILL)  # no release: the lease has to run out
    one.finish(30)
    write_users(csv, [person(n, active="false" if n < 4 else "true") for n in range(10)])
    sync(config)
    other.wait_for("holds the cursor")
    wait_for(lambda: arrived_all(receiver, engine), 60, "the second run's events")
    other.process.send_signal(signal.SIGTERM)
    assert other.finish(60).code == 0
    procs = [h["proc"] for h in receiver.received.headers]
    assert set(procs[10:]) == {str(other.process.pid)}
    assert receiver.received.ids() == all_ids(engine)


class Collect:
    """A sink that keeps what it is given: to drive `AuditStream.round()` step by step."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def send(self, events: Any) -> None:
        self.ids += [e["id"] for e in events]


def _event(conn: Any, name: str) -> int:
    from sqlalchemy import func, select

    from sync.model.actor import Actor
    from sync.store.audit import Event, record
    from sync.store.schema import account_events
    from sync.timeutil import utc_now

    record(conn, "t1", Actor.admin("tester"), [Event(1, name, "edited", {})], utc_now())
    return int(conn.execute(select(func.max(account_events.c.id))).scalar_one())


def test_postgresql_a_lower_id_committed_later_is_waited_for_and_a_rolled_back_one_skipped(
    pg_store: str,
) -> None:
    engine = upgraded(pg_store)
    sink = Collect()
    stream = AuditStream(syslog("127.0.0.1:9"), engine, sink)
    with engine.connect() as slow:
        slow.begin()
        low = _event(slow, "slow")  # its id is taken; its commit comes last
        with engine.begin() as fast:
            high = _event(fast, "fast")
        assert low < high
        for _ in range(5):  # the gap at `low` holds `high` back however often it looks
            stream.round()
        assert sink.ids == []
        slow.commit()
    wait_for(lambda: stream.round() == 0 and sink.ids == [low, high], 10, "both, in id order")
    with engine.connect() as undone:
        undone.begin()
        gone = _event(undone, "undone")
        with engine.begin() as fast:
            after = _event(fast, "after")
        stream.round()
        assert sink.ids == [low, high]
        undone.rollback()  # `gone` will never be there: the stream goes past it
    # every transaction of the server in progress at the read must end first: other databases'
    # too (the snapshot's list is the server's), so this may wait for a neighbour's long one
    wait_for(lambda: (stream.round(), sink.ids)[1] == [low, high, after], 300, "past the gap")
    assert gone < after and audit_cursor.position(engine)[0] == after


def test_web_and_worker_send_as_the_scheduler_does(tmp_path: Path, pg_store: str) -> None:
    csv = small_directory(tmp_path / "u.csv", 10)
    receiver = SyslogReceiver()
    config = scheduler_config(tmp_path, pg_store, csv, receiver)
    engine = upgraded(pg_store)
    commands = (("web", "--port", "0"), ("worker", "--concurrency", "1"))
    for round_number, command in enumerate(commands):
        process = Watched(config, "-v", *command)
        process.wait_for("holds the cursor")
        if round_number:
            write_users(csv, [person(n, active="false" if n < 5 else "true") for n in range(10)])
        sync(config)
        wait_for(lambda: arrived_all(receiver, engine), 30, f"the events, by {command[0]}")
        assert receiver.received.headers[-1]["proc"] == str(process.process.pid)
        process.process.send_signal(signal.SIGTERM)
        assert process.finish(90).code == 0
        assert audit_cursor.position(engine)[1] is None  # the lease given up on the way out
    assert receiver.received.ids() == all_ids(engine)


def test_a_store_without_the_cursor_row_gets_one_and_streams(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path}/store.db"
    config = configure(tmp_path, url, [tenant("t1", small_directory(tmp_path / "u.csv", 3))])
    engine = upgraded(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_stream"))
    sync(config)
    sink = Collect()
    stream = AuditStream(syslog("127.0.0.1:9"), engine, sink)
    wait_for(lambda: (stream.round(), sink.ids)[1] == all_ids(engine), 10, "the events")
