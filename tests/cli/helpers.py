"""Running `clomo-sync` as a real process, as an administrator does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clomo(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m sync ARGS` in `cwd`; `env` adds to (and, with "", keeps) the environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOMO_SYNC_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sync", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
