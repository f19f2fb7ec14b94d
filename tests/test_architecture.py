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
    "sync.config.secrets": 0,
    "sync.compose": 1,
    "sync.planning": 1,
    "sync.sources": 2,
    "sync.mail": 2,
    "sync.store": 2,
    "sync.ops": 2,
    "sync.config": 2,  # the settings models validate source keys and name rules (ARCHITECTURE.md)
    "sync.services": 3,
    "sync.entry": 4,
    "sync.__main__": 4,
}
# arrows that point down and are still wrong (ARCHITECTURE.md): (from, to) prefixes
NEVER: tuple[tuple[str, str], ...] = (
    ("sync.entry", "sync.store"),  # entry points call services, which open the store
    ("sync.__main__", "sync.store"),
    ("sync.entry", "sync.mail"),  # delivery too goes through a service
    ("sync.entry", "sync.sources"),  # reading a directory is a run's, or explain's, business
    ("sync.sources", "sync.store"),  # a source yields people; it never writes them
    ("sync.store", "sync.compose"),  # the store returns domain objects, never builds names
    ("sync.store", "sync.planning"),
    ("sync.mail", "sync.ops"),
)
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
    return imports_in(path.read_text(encoding="utf-8"))


def imports_in(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
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
    assert wrong_imports(module_name(path), imports_of(path)) == []


def wrong_imports(name: str, imports: list[tuple[int, str]]) -> list[str]:
    """Each import of module `name` that points up a floor, out of pure logic to the outside
    world, or along a never-arrow."""
    own = floor_of(name)
    if own is None:
        return []
    wrong = []
    for line, imported in imports:
        target = floor_of(imported)
        if target is not None and target > own:
            wrong.append(f"line {line}: {NAMES[own]} imports {NAMES[target]} {imported}")
        if own <= 1 and imported.split(".")[0] in OUTSIDE_WORLD:
            wrong.append(f"line {line}: {NAMES[own]} imports {imported}")
        for source, target_prefix in NEVER:
            if _under(name, source) and _under(imported, target_prefix):
                wrong.append(f"line {line}: {name} imports {imported} (never {target_prefix})")
    return wrong


@pytest.mark.parametrize(
    ("module", "planted", "said"),
    [
        ("sync.entry.cli.accounts", "from sync.store.accounts import account_rows",
         "never sync.store"),
        ("sync.entry.web.console.runs", "import sync.store.engine", "never sync.store"),
        ("sync.sources.csv", "from sync.store.engine import writing", "never sync.store"),
        ("sync.store.accounts", "from sync.compose.collisions import NameBook",
         "never sync.compose"),
        ("sync.mail.deliver", "from sync.ops.logs import log_context", "never sync.ops"),
        ("sync.planning.plan", "from sync.services.runner import run_tenant",
         "pure logic imports services"),
    ],
)  # fmt: skip
def test_a_planted_import_fails(module: str, planted: str, said: str) -> None:
    """The checker itself: an import that breaks an arrow is found (a planted `sync.store`
    import in the CLI, say), naming the line and the arrow."""
    found = wrong_imports(module, imports_in(f"import os\n{planted}\n"))
    assert len(found) == 1 and found[0].startswith("line 2:") and said in found[0], found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")
