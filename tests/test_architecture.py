"""The floors of ARCHITECTURE.md, kept by a test: an arrow only points down.

Each module of `sync` is placed on a floor by its dotted name; its imports (module level and inside
functions alike) may name its own floor or lower ones, never a higher one. Tables and SQL stay in
sync.store: that part is ruff's banned-api (pyproject.toml), which names the offending line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sync"

# the floor of a module is that of its longest matching prefix; a higher number is a higher floor
FLOORS: dict[str, int] = {
    "sync.model": 0,
    "sync.errors": 0,
    "sync.retry": 0,
    "sync.timeutil": 0,
    "sync.report": 0,
    "sync.secrets": 0,
    "sync.compose": 1,
    "sync.plan": 1,
    "sync.guards": 1,
    "sync.describe": 1,
    "sync.groups": 1,
    "sync.sources": 2,
    "sync.mail": 2,
    "sync.store": 2,
    "sync.ops": 2,
    "sync.config": 2,
    "sync.config_env": 2,
    "sync.config_errors": 2,
    "sync.config_load": 2,
    "sync.config_paths": 2,
    "sync.config_schema": 2,
    "sync.schedule": 2,
    "sync.directory": 3,
    "sync.runner": 3,
    "sync.admin": 3,
    "sync.changes": 3,
    "sync.commit": 3,
    "sync.alerts": 3,
    "sync.tenants": 3,
    "sync.current": 3,
    "sync.history": 3,
    "sync.provisioning": 3,
    "sync.cli": 4,
    "sync.web": 4,
    "sync.fleet": 4,
    "sync.scheduler": 4,
    "sync.__main__": 4,
    "sync.docs": 4,
}
NAMES = {0: "ground", 1: "pure logic", 2: "adapters", 3: "services", 4: "entry points"}
# pure logic and the ground floor know no database, network or terminal
OUTSIDE_WORLD = ("sqlalchemy", "ldap3", "requests", "smtplib", "click", "starlette", "tqdm")


def floor_of(module: str) -> int | None:
    matches = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    return FLOORS[max(matches, key=len)] if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_every_module_has_a_floor() -> None:
    unplaced = [module_name(p) for p in MODULES if floor_of(module_name(p)) is None]
    unplaced = [m for m in unplaced if m != "sync"]
    assert unplaced == [], "place these in FLOORS (ARCHITECTURE.md)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    own = floor_of(name)
    if own is None:
        return
    wrong = []
    for line, imported in imports_of(path):
        target = floor_of(imported)
        if target is not None and target > own:
            wrong.append(f"line {line}: {NAMES[own]} imports {NAMES[target]} {imported}")
        if own <= 1 and imported.split(".")[0] in OUTSIDE_WORLD:
            wrong.append(f"line {line}: {NAMES[own]} imports {imported}")
    assert wrong == []
