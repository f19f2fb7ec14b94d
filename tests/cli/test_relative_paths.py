"""The demo run from another working directory uses the same store and outbox (SPEC §10)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.helpers import ROOT, clomo


def test_the_demo_from_three_working_directories_is_one_store_and_one_outbox(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "config", repo / "config", ignore=shutil.ignore_patterns("templates"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    first = clomo("--config", "config/demo.toml", "sync", "--all", "--json", cwd=repo)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout.splitlines()[0])
    assert report["counts"]["created"] == 35 and report["counts"]["emails_queued"] == 35
    outbox = repo / "var" / "demo" / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 35

    for cwd, config in (
        (repo / "config", "demo.toml"),
        (elsewhere, str(repo / "config/demo.toml")),
    ):
        again = clomo("--config", config, "sync", "--all", "--json", cwd=cwd)
        assert again.returncode == 0, again.stderr
        counts = json.loads(again.stdout.splitlines()[0])["counts"]
        assert (counts["created"], counts["emails_queued"], counts["unchanged"]) == (0, 0, 35)

    assert len(list(outbox.glob("*.eml"))) == 35
    stores = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.db"))
    assert stores == [Path("repo/var/demo/clomo-sync.db")]
    assert not (repo / "config" / "var").exists() and not (elsewhere / "var").exists()


def test_a_store_where_an_earlier_release_put_it_is_named_not_started_again(
    tmp_path: Path,
) -> None:
    """Before relative paths meant the configuration's folder they meant the working directory:
    an upgraded setup whose store is only there is told so, and no second store is made."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "config", repo / "config", ignore=shutil.ignore_patterns("templates"))
    config = repo / "config" / "demo.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "sqlite:///../var/demo/clomo-sync.db", "sqlite:///var/demo/clomo-sync.db"
        ),
        encoding="utf-8",
    )
    old_store = repo / "var" / "demo" / "clomo-sync.db"
    old_store.parent.mkdir(parents=True)
    old_store.write_bytes(b"")  # where the old release kept it, from the repository's folder

    refused = clomo("--config", "config/demo.toml", "sync", "--all", cwd=repo)
    assert refused.returncode == 2, refused.stderr
    assert f"there is one at {old_store}" in refused.stderr
    assert not (repo / "config" / "var").exists()

    from_its_folder = clomo("--config", "demo.toml", "sync", "--all", cwd=repo / "config")
    assert from_its_folder.returncode == 0, from_its_folder.stderr  # the new meaning: no clash
