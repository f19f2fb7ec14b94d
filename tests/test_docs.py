"""The repository stands alone: its reference docs are current and its links stay inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.entry import docs

ROOT = Path(__file__).resolve().parents[1]
# [text](target) and [text]: target; the target up to a space, ) or #
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s#>]*)|^\s*\[[^\]]+\]:\s*<?([^\s#>]+)", re.MULTILINE)
SKIPPED = {".venv", ".git", "var", "node_modules", "bench"}


def markdown_files() -> list[Path]:
    return sorted(
        p for p in ROOT.rglob("*.md") if not SKIPPED & set(p.relative_to(ROOT).parts[:-1])
    )


def test_generated_references_are_current() -> None:
    """Fails when a setting or command changed without `python -m sync.entry.docs` being run."""
    for target, text in docs.generated().items():
        assert (ROOT / target).read_text(encoding="utf-8") == text, f"{target} is stale"


def test_the_check_mode_says_which_file_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    assert docs.main(["--check"]) == 1
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0
    assert (tmp_path / "docs/commands.md").read_text(encoding="utf-8").startswith("# Command")


def test_every_command_and_source_kind_is_in_the_references() -> None:
    from sync.entry.cli import cli
    from sync.sources import SOURCES

    commands = (ROOT / "docs/commands.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"`clomo-sync {name}`" in commands
        for sub in getattr(command, "commands", {}):
            assert f"`clomo-sync {name} {sub}`" in commands
    configuration = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    for kind in SOURCES:
        assert f'## [tenants.source] kind = "{kind}"' in configuration


def test_no_markdown_link_leaves_the_repository() -> None:
    files = markdown_files()
    assert ROOT / "README.md" in files and ROOT / "docs/configuration.md" in files
    broken = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "../shared/" in text:
            broken.append(f"{path.relative_to(ROOT)}: mentions ../shared/")
        for match in LINK.finditer(text):
            target = match.group(1) or match.group(2)
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # an anchor in the page, or a web address
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert broken == []
