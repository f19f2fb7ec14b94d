"""Secrets come from a variable's name or a file's path, never from the configuration itself.

Messages name the variable or file, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sync.errors import StopRun


def read_secret(
    what: str,
    env_name: str | None,
    file_path: Path | None,
    environ: Mapping[str, str] = os.environ,
) -> str | None:
    """The secret's value, None when neither is configured; StopRun when configured but unusable."""
    if env_name:
        value = environ.get(env_name)
        if not value:
            raise StopRun(f"{what}: environment variable {env_name} is not set")
        return value
    if file_path:
        try:
            return file_path.read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise StopRun(f"{what}: cannot read secret file {file_path}: {exc.strerror}") from None
    return None
