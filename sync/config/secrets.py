"""Secrets come from a variable's name or a file's path, never from the configuration itself.

Messages name the variable or file, never the value.
"""

from __future__ import annotations

import os
import re
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


# `web` signs sessions and forms with web.secret: shorter ones are refused (by `config check`
# and by `web` alike)
MIN_WEB_SECRET = 32


def web_secret_problem(value: str) -> str | None:
    if len(value) < MIN_WEB_SECRET:
        return f"the secret is shorter than {MIN_WEB_SECRET} characters"
    return None


# A variable's name: letters, digits and _, not starting with a digit.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_VARIABLE_NAME = 64


def looks_like_variable_name(value: str) -> bool:
    """False for what looks like a secret put where a variable's name belongs.

    Names are written ACME_LDAP_PASSWORD or acme_ldap_password; a value with spaces or `=`, a
    very long one, or one mixing upper- and lower-case letters with digits (a generated password
    or key) is taken for the secret itself.
    """
    if len(value) > MAX_VARIABLE_NAME or not _VARIABLE_NAME.fullmatch(value):
        return False
    mixed_case = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return not (mixed_case and any(c.isdigit() for c in value))


def variable_name_problem(key: str, value: object) -> str | None:
    """The message for a `*_env` key that does not name a variable; it never repeats the value."""
    if value is None or (isinstance(value, str) and looks_like_variable_name(value)):
        return None
    return f"{key} must name an environment variable, not hold the secret itself"


def secret_readable_problem(key: str, value: object, environ: Mapping[str, str]) -> str | None:
    """Why a configured `*_env` variable or `*_file` cannot be read (never its contents)."""
    if not isinstance(value, str) or not value:
        return None
    if key.endswith("_env"):
        return None if environ.get(value) else f"environment variable {value} is not set"
    path = Path(value)
    if not path.is_file():
        return f"{path} is not a file" if path.exists() else f"{path} does not exist"
    try:
        with path.open("rb"):
            return None
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
