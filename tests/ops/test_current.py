"""SPEC §14: a long-running process reads the tenant when it acts: an edit of the configuration
file reaches it without a restart, and a broken edit leaves the last good settings in force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.config.settings import load_settings
from sync.services.current import tenant_now
from sync.services.tenants import provision_from_file
from tests.ops.conftest import configure, small_directory, tenant, upgraded


def test_an_edited_file_governs_the_next_action(
    tmp_path: Path, any_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    csv = small_directory(tmp_path / "u.csv", 2)
    config = configure(tmp_path, any_store, [tenant("acme", csv, schedule="0 3 * * *")])
    engine = upgraded(any_store)
    started = load_settings(config)  # what a process read when it started
    provision_from_file(engine, started)
    first = tenant_now(started, engine, "acme")
    assert first is not None and first.schedule == "0 3 * * *"

    configure(tmp_path, any_store, [tenant("acme", csv, schedule="*/5 * * * *")])
    os.utime(config, ns=(1, 2_000_000_000_000_000_000))  # a new stamp even within one tick
    edited = tenant_now(started, engine, "acme")
    assert edited is not None and edited.schedule == "*/5 * * * *"

    config.write_text(config.read_text() + "\n[[tenants]]\nid = 'broken'\n", encoding="utf-8")
    os.utime(config, ns=(1, 3_000_000_000_000_000_000))
    kept = tenant_now(started, engine, "acme")
    assert kept is not None and kept.schedule == "*/5 * * * *"
    assert "changed but is not valid; not applied" in caplog.text
    engine.dispose()
