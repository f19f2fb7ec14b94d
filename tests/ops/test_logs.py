"""Log lines: text or JSON lines, the tenant and run id on each line of a run, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.config.settings import load_settings
from sync.ops.logs import JsonFormatter, Redactor, TextFormatter, log_context, redact_settings
from tests.ops.conftest import configure, run, small_directory, tenant
from tests.support.configs import table

SMTP_PASSWORD = "smtp-Pa55word-value"
DB_PASSWORD = "db-Pa55word-value"
WEB_SECRET = "web-signing-key-0123456789-abcdefghij"


def test_json_lines_carry_the_tenant_and_run_id(tmp_path: Path) -> None:
    csv = small_directory(tmp_path / "u.csv", 3)
    config = configure(
        tmp_path, f"sqlite:///{tmp_path}/store.db", [tenant("acme", csv), tenant("beta", csv)]
    )
    result = run(config, "--log-format", "json", "-v", "sync", "--all", "--json")
    assert result.code == 0, result.err
    run_ids = {r["tenant"]: r["run_id"] for r in result.reports()}
    # every log line is JSON; the one other line is the command's delivery summary
    lines = [json.loads(line) for line in result.err.splitlines() if not line.startswith("email:")]
    from_runs = [line for line in lines if line["logger"] == "sync.services.runner"]
    assert {(line["tenant"], line["message"]) for line in from_runs} >= {
        ("acme", "run started"),
        ("acme", "run ended: succeeded"),
        ("beta", "run started"),
        ("beta", "run ended: succeeded"),
    }
    for line in from_runs:
        assert line["run_id"] == run_ids[line["tenant"]]
        assert set(line) >= {"time", "level", "logger", "message", "tenant", "run_id"}


def test_text_lines_name_the_tenant_and_run(tmp_path: Path) -> None:
    config = configure(
        tmp_path,
        f"sqlite:///{tmp_path}/store.db",
        [tenant("acme", small_directory(tmp_path / "u.csv"))],
    )
    result = run(config, "-v", "sync", "--tenant", "acme", "--json")
    run_id = result.reports()[0]["run_id"]
    assert f"sync.services.runner: [tenant=acme run={run_id}] run started" in result.err


@pytest.fixture
def secret_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"postgresql+psycopg://clomo:{DB_PASSWORD}@db.example/clomo"
    config = configure(tmp_path, url, [tenant("acme", small_directory(tmp_path / "u.csv"))])
    mail = table("[mail]", {"delivery": "smtp", "username": "sync", "password_env": "SMTP_PW"})
    web = table("[web]", {"secret_env": "WEB_KEY"})
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.split("[mail]")[0] + mail + web + "\n[[tenants]]" + text.split("[[tenants]]", 1)[1]
    )
    monkeypatch.setenv("SMTP_PW", SMTP_PASSWORD)
    monkeypatch.setenv("WEB_KEY", WEB_SECRET)
    yield config


@pytest.mark.parametrize("formatter", [TextFormatter, JsonFormatter])
def test_secrets_never_reach_a_log_line(secret_settings: Path, formatter: type) -> None:
    redactor = Redactor()
    redact_settings(load_settings(secret_settings), redactor)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(redactor))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context("acme", "run-1"):
            logger.warning("login refused for %s", SMTP_PASSWORD)
            logger.warning("forms signed with %s", WEB_SECRET)
            logger.warning("connecting to ldap://cn=sync:other-secret@ldap.example/")
            try:
                raise RuntimeError(f"postgresql://clomo:{DB_PASSWORD}@db/clomo is down")
            except RuntimeError:
                logger.exception("store trouble")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert SMTP_PASSWORD not in out
    assert WEB_SECRET not in out  # the [web] secret too
    assert DB_PASSWORD not in out
    assert "other-secret" not in out  # any URL's password, configured or not
    assert out.count("***") >= 5
    assert "Traceback" in out  # the traceback is kept, only the secret is gone


def test_each_thread_logs_its_own_tenant() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(Redactor()))
    logger = logging.getLogger("test.threads")
    logger.addHandler(handler)
    logger.propagate = False
    barrier = threading.Barrier(2)

    def work(tenant_id: str) -> None:
        with log_context(tenant_id, f"run-{tenant_id}"):
            barrier.wait()
            logger.warning("working")

    threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sorted((line["tenant"], line["run_id"]) for line in lines) == [
        ("a", "run-a"),
        ("b", "run-b"),
    ]
