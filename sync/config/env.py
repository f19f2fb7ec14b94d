"""Environment overrides of the configuration file (SPEC §8).

`CLOMO_SYNC_MAIL__SMTP_PORT=2525` sets mail.smtp_port; a tenant is addressed by its id
(`CLOMO_SYNC_TENANTS__ACME__SOURCE__URL`) or its position. Every override is checked against the
settings models before it is applied, so a typo is blamed on the variable, not on the file. An
empty value unsets the key (back to its default). Which variable set which key is kept, so later
problems with the value are blamed on the variable too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the schema needs pydantic; `--help` must not import it (config_path)
    from sync.config.schema import Shape

ENV_PREFIX = "CLOMO_SYNC_"
DEFAULT_CONFIG = Path("config/clomo-sync.toml")
# Variables of the prefix that are not overrides.
NOT_OVERRIDES = frozenset({ENV_PREFIX + "CONFIG"})

Loc = tuple[str | int, ...]


def config_path(explicit: str | Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """`--config`, else $CLOMO_SYNC_CONFIG, else config/clomo-sync.toml."""
    if explicit:
        return Path(explicit)
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    return DEFAULT_CONFIG


class OverrideError(Exception):
    """An override that names no key of the configuration."""


def apply_env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], root: Shape
) -> tuple[list[str], dict[Loc, str]]:
    """Applies every override to the raw data; returns the problems and, for each location an
    override set, the variable's name."""
    problems: list[str] = []
    origins: dict[Loc, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in NOT_OVERRIDES:
            continue
        steps = name[len(ENV_PREFIX) :].split("__")
        try:
            loc = _apply(data, root, steps, environ[name])
        except OverrideError as exc:
            problems.append(f"environment {name}: {exc}")
            continue
        if loc is not None:
            origins[loc] = name
    return problems, origins


def _apply(data: dict[str, Any], root: Shape, steps: list[str], raw: str) -> Loc | None:
    from sync.config.schema import child, pick

    node: Any = data
    shape: Shape | None = root
    loc: list[str | int] = []
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        resolved = pick(shape, node) if shape is not None else None
        if resolved is not None and resolved.kind == "list":
            if resolved.item is None or resolved.item.kind not in ("model", "union"):
                from sync.config.explain import place

                where = place(tuple(loc), root, data)[1]
                raise OverrideError(f'{where} is a list: set it whole, like ["a", "b"]')
            index = _list_index(node if isinstance(node, list) else [], step)
            loc.append(index)
            shape, node = resolved.item, node[index]
            continue
        key = _key(resolved, step)
        loc.append(key)
        shape = child(resolved, node, key) if resolved is not None else None
        if not isinstance(node, dict):
            raise OverrideError(f"{'.'.join(map(str, loc[:-1]))} is a single value, not a table")
        if last:
            if raw == "":
                node.pop(key, None)  # empty: unset, back to the default
            else:
                node[key] = raw if shape is not None and shape.is_text else _toml_value(raw)
            return tuple(loc)
        if raw == "" and key not in node:
            return None  # unsetting a key of a table that is not there: nothing to do
        node = node.setdefault(key, [] if _is_list(shape) else {})
    return None


def _key(shape: Shape | None, step: str) -> str:
    """The key one step names; an unknown key is refused with the closest known one."""
    from sync.config.schema import keys_of, suggestion

    key = step.lower()
    if shape is None or shape.kind != "model" or shape.model is None:
        return key  # a free table (attributes) or a source whose kind is not known yet
    known = list(keys_of(shape.model))
    if key in known:
        return key
    close = suggestion(key, known)
    hint = f"; did you mean {close.upper()}?" if close else "; known: " + ", ".join(known).upper()
    raise OverrideError(f"unknown key {step.upper()}{hint}")


def _list_index(items: list[Any], step: str) -> int:
    for index, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("id", "")).lower() == step.lower():
            return index
    if step.isdigit() and int(step) < len(items):
        return int(step)
    configured = [str(i.get("id")) for i in items if isinstance(i, dict)]
    raise OverrideError(
        f"no tenant {step.lower()!r} to override; configured: {', '.join(configured) or 'none'}"
    )


def _is_list(shape: Shape | None) -> bool:
    return shape is not None and shape.kind == "list"


def _toml_value(raw: str) -> Any:
    """Numbers, booleans and arrays as TOML reads them; anything else as the text written."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
