"""Paths and the database URL of the configuration (SPEC §10: relative paths).

A relative path in the file (a CSV's `path`, `outbox_dir`, a SQLite file, key and CA files,
`templates_dir`) is relative to the folder of the configuration file, so a command run from any
working directory uses the same store, outbox and files. A relative path given by an environment
override is relative to the working directory, as a path typed in a shell is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sync.config.schema import Shape, keys_of, shape_of, walk_values

Loc = tuple[str | int, ...]
# scheme://user:PASSWORD@host: the part never shown
_URL_PASSWORD = re.compile(r"^(?P<head>[^:/]+://[^:/@]*:)[^@]*(?=@)")


def resolve_paths(data: dict[str, Any], root: Shape, folder: Path, origins: dict[Loc, str]) -> None:
    """Makes every relative path of the raw data absolute, in place (defaults included, so
    the default store and outbox are beside the file too)."""
    _fill_path_defaults(root, data)
    for loc, shape, parent, key in walk_values(root, data):
        value = parent[key]
        if shape.is_path and isinstance(value, str) and value:
            parent[key] = str(_absolute(value, Path.cwd() if loc in origins else folder))
    database = data.get("database")
    if isinstance(database, dict) and isinstance(database.get("url"), str):
        from_env = ("database", "url") in origins
        database["url"] = sqlite_absolute(database["url"], Path.cwd() if from_env else folder)


def _fill_path_defaults(shape: Shape, node: dict[str, Any]) -> None:
    """Writes the default of each path key (and of `database.url`) into the raw data."""
    if shape.kind != "model" or shape.model is None:
        return
    for key, info in keys_of(shape.model).items():
        sub = shape_of(info.annotation)
        a_path = sub.is_path or key == "url"  # database.url: a SQLite file's path
        if key not in node and a_path and isinstance(info.default, str | Path):
            node[key] = str(info.default)
        elif sub.kind == "model" and isinstance(node.setdefault(key, {}), dict):
            _fill_path_defaults(sub, node[key])


def _absolute(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    # normpath: `../var` shown as the folder it names (the file's folder is taken as written)
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def sqlite_absolute(url: str, base: Path) -> str:
    """`sqlite:///var/x.db` with the file's path made absolute from `base`; other URLs as given."""
    if not url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # any parse failure: the database.url check reports it
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    absolute = _absolute(database, base)
    return parsed.set(database=str(absolute)).render_as_string(hide_password=False)


def moved_store_problem(raw_url: object, url: object, cwd: Path) -> str | None:
    """A relative SQLite path in the file named a path from the working directory until
    2026-11, and from the file's folder since. When the store is found only where the old
    meaning put it, say so rather than start a second, empty store (which would create every
    account again and send every invitation twice)."""
    if not (isinstance(raw_url, str) and isinstance(url, str) and raw_url.startswith("sqlite")):
        return None
    from sqlalchemy.engine import make_url

    try:
        written, resolved = make_url(raw_url).database, make_url(url).database
    except Exception:  # any parse failure: the database.url check reports it
        return None
    if not written or not resolved or Path(written).expanduser().is_absolute():
        return None
    new, old = Path(resolved), _absolute(written, cwd)
    if new == old or new.exists() or not old.is_file():
        return None
    return (
        f"database.url: {written} is {new} (a relative path is relative to the configuration "
        f"file's folder), where there is no store; there is one at {old}, relative to the "
        "working directory as earlier releases read it. Write the path to the store you mean "
        "(absolute, or relative to the configuration file's folder)"
    )


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages."""
    return _URL_PASSWORD.sub(r"\g<head>***", url)


def database_url_problem(url: str) -> str | None:
    """Why the URL cannot open a store (a bad port, an unknown dialect or driver), or None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_url(url)
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 (make_url reads the port lazily in some versions)
    except ValueError:
        return f"{shown} has a port that is not a number"
    except ArgumentError:
        return f"{shown} is not a database URL like sqlite:///var/clomo-sync.db"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"{shown} has port {parsed.port}, which is not between 1 and 65535"
    try:
        dialect = parsed.get_dialect()
        dialect.import_dbapi()
    except NoSuchModuleError:
        known = "sqlite, postgresql+psycopg"
        return f"{shown}: unknown database kind or driver {parsed.drivername!r} ({known})"
    except ImportError as exc:
        return f"{shown}: the driver for {parsed.drivername!r} is not installed ({exc.name})"
    return None
