"""Reading the configuration file: overrides, paths, validation, and every problem blamed on
its file key or on the environment variable that set it (SPEC §8, §10)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sync.config.env import apply_env_overrides
from sync.config.explain import describe, hidden_errors, place, unknown_key
from sync.config.paths import moved_store_problem, resolve_paths
from sync.config.schema import Shape, keys_of, shape_of, walk_values
from sync.config.secrets import (
    read_secret,
    secret_readable_problem,
    variable_name_problem,
    web_secret_problem,
)
from sync.config.settings import Settings, TenantSettings
from sync.errors import ConfigError, StopRun

Loc = tuple[str | int, ...]


def read_settings(
    path: Path, environ: Mapping[str, str] = os.environ, check_secrets: bool = False
) -> tuple[Settings | None, list[str]]:
    """The settings (None when invalid) and every problem, each blamed on its file key or on
    the environment variable that set it."""
    data = read_toml(path)
    root = shape_of(Settings)
    problems, origins = apply_env_overrides(data, environ, root)
    if "path" in data:  # Settings.path records where the file is; it is not a key of it
        del data["path"]
        problems.append(f"{path}: path: {unknown_key('path', list(keys_of(Settings)))}")
    refused: set[Loc] = set()
    problems += _variable_names(path, data, root, origins, refused)
    written = _database_url(data) if ("database", "url") not in origins else None
    resolve_paths(data, root, path.parent.absolute(), origins)
    if moved := moved_store_problem(written, _database_url(data), Path.cwd()):
        problems.append(f"{path}: {moved}")
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data).model_copy(update={"path": path})
    except ValidationError as exc:
        errors = exc.errors()
        for error in [*errors, *hidden_errors(Settings, data, errors, root)]:
            loc, key, message = describe(error, root, data)
            problems.append(_blame(path, origins, loc, key, message))
    if check_secrets:
        problems += _unreadable(path, data, root, origins, refused, environ)
    return (None if problems else settings), problems


def _database_url(data: dict[str, Any]) -> object:
    database = data.get("database")
    return database.get("url") if isinstance(database, dict) else None


def _web_secret(key: str, value: object, environ: Mapping[str, str]) -> str | None:
    """What `web` would say of the secret web.secret_env / web.secret_file names."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if key == "secret_env":
            secret = read_secret("web.secret", value, None, environ)
        else:
            secret = read_secret("web.secret", None, Path(value), environ)
    except StopRun as exc:
        return str(exc)
    return None if secret is None else web_secret_problem(secret)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: configuration file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def tenant_file(path: Path) -> tuple[list[TenantSettings], list[str]]:
    """A tenants file's [[tenants]] (`tenants apply`), validated and explained as the
    configuration's are, relative paths from the file's folder: (the tenants, every problem)."""
    data = read_toml(path)
    entries = data.get("tenants")
    problems = [
        f"{path}: {key}: {unknown_key(key, ['tenants'])}" for key in data if key != "tenants"
    ]
    if not isinstance(entries, list) or not entries:
        return [], [*problems, f"{path}: no [[tenants]] tables"]
    wrapper: dict[str, Any] = {"tenants": entries}
    root = shape_of(Settings)
    resolve_paths(wrapper, root, path.parent.absolute(), {})
    found: list[TenantSettings] = []
    for index, entry in enumerate(wrapper["tenants"]):
        try:
            found.append(TenantSettings.model_validate(entry))
        except ValidationError as exc:
            own = shape_of(TenantSettings)
            for error in [*exc.errors(), *hidden_errors(TenantSettings, entry, exc.errors(), own)]:
                located = {**error, "loc": ("tenants", index, *error["loc"])}
                _loc, key, message = describe(located, root, wrapper)
                problems.append(f"{path}: {key}: {message}")
    return found, problems


def _blame(path: Path, origins: dict[Loc, str], loc: Loc, key: str, message: str) -> str:
    """`FILE: key: message`, or `environment VARIABLE: message` when an override set the key
    (or a table holding it)."""
    for length in range(len(loc), 0, -1):
        name = origins.get(loc[:length])
        if name is not None:
            where = "" if length == len(loc) else f"{key}: "
            return f"environment {name}: {where}{message}"
    return f"{path}: {key}: {message}"


def _labelled(data: dict[str, Any], root: Shape, loc: Loc) -> str:
    return place(loc, root, data)[1]


def _variable_names(
    path: Path, data: dict[str, Any], root: Shape, origins: dict[Loc, str], refused: set[Loc]
) -> list[str]:
    """A `*_env` key must name a variable; a secret put there by mistake is refused unseen."""
    problems = []
    for loc, _shape, parent, key in walk_values(root, data):
        if key.endswith("_env"):
            problem = variable_name_problem(key, parent[key])
            if problem:
                refused.add(loc)
                problems.append(_blame(path, origins, loc, _labelled(data, root, loc), problem))
    return problems


def _unreadable(
    path: Path,
    data: dict[str, Any],
    root: Shape,
    origins: dict[Loc, str],
    refused: set[Loc],
    environ: Mapping[str, str],
) -> list[str]:
    """Every named secret variable and every `*_file` that cannot be read, the web secret that
    `web` would refuse, and every CSV export that is not there (SPEC §14)."""
    problems = []
    for loc, shape, parent, key in walk_values(root, data):
        if key == "path" and parent.get("kind") == "csv" and loc not in refused:
            if problem := secret_readable_problem("path_file", parent[key], environ):
                problems.append(_blame(path, origins, loc, _labelled(data, root, loc), problem))
            continue
        readable = key.endswith("_env") or (key.endswith("_file") and shape.is_path)
        if loc in refused or not readable:
            continue
        problem = secret_readable_problem(key, parent[key], environ)
        if problem is None and loc[0] == "web":
            problem = _web_secret(key, parent[key], environ)
        if problem:
            problems.append(_blame(path, origins, loc, _labelled(data, root, loc), problem))
    return problems
