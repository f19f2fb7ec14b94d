"""Pydantic's validation errors in an administrator's words, each placed at its key.

"Input should be a valid integer, unable to parse string as an integer" becomes "must be a whole
number"; an unknown key or a mistyped choice gets a "did you mean". Messages never repeat the
value given, except a mistyped choice (a word from a fixed list, never a secret).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sync.config.schema import Shape, child, keys_of, pick, suggestion

Loc = tuple[str | int, ...]

_PLAIN = {
    "missing": "required key missing",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text (in quotes)",
    "path_type": "must be a path (text in quotes)",
    "tuple_type": 'must be a list, like ["a", "b"]',
    "list_type": 'must be a list, like ["a", "b"]',
    "dict_type": "must be a table of keys and values",
    "model_type": "must be a table of keys and values ([section] or {{ key = … }})",
    "model_attributes_type": "must be a table of keys and values ([section] or {{ key = … }})",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} {characters} long",
    "string_too_long": "must be at most {max_length} {characters} long",
}

# Patterns of the settings models, said in words.
_PATTERNS = {
    "^ldaps?://": "must be an ldap:// or ldaps:// URL",
    "^https?://": "must be an http:// or https:// URL",
    r"^\d+\.\d$": 'must be a version like "59.0"',
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$": (
        "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
    ),
}


def place(loc: tuple[Any, ...], root: Shape, data: Any) -> tuple[Loc, str, Shape | None]:
    """A pydantic location as the data's location (list positions, no union tags), the key as
    an administrator writes it (tenants named by id) and the shape found there."""
    steps: list[str | int] = []
    label: list[str] = []
    shape: Shape | None = root
    node = data
    for step in loc:
        if shape is not None and shape.kind == "union" and step in shape.choices:
            continue  # pydantic names the union's branch; it is not a key of the file
        shape = child(shape, node, step) if shape is not None else None
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            name = item.get("id") if isinstance(item, dict) else None
            label[-1:] = [f"{label[-1] if label else ''}[{name or step}]"]
            node = item
        else:
            label.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
        steps.append(step)
    return tuple(steps), ".".join(label), shape


def describe(error: Any, root: Shape, data: Any) -> tuple[Loc, str, str]:
    """(data location, key, message) for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc, key, shape = place(error["loc"], root, data)
    if kind == "extra_forbidden":
        parent, _, _ = place(error["loc"][:-1], root, data)
        return loc, key, unknown_key(str(loc[-1]), _known(root, data, parent))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = sorted(shape.choices) if shape is not None and shape.choices else []
        key += ".kind"
        if kind == "union_tag_not_found":
            return (*loc, "kind"), key, "required key missing (one of " + ", ".join(kinds) + ")"
        return (*loc, "kind"), key, choice_message(str(ctx.get("tag", "")), kinds)
    if kind == "literal_error" and shape is not None and shape.literals:
        return loc, key, choice_message(str(error.get("input", "")), list(shape.literals))
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return loc, key, _PATTERNS.get(pattern, f"must match the pattern {pattern}")
    if kind in _PLAIN:
        bound = ctx.get("min_length", ctx.get("max_length"))
        characters = "character" if bound == 1 else "characters"
        return loc, key, _PLAIN[kind].format(characters=characters, **ctx)
    message = str(error["msg"])
    return loc, key, message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def unknown_key(word: str, known: list[str]) -> str:
    """`unknown key; did you mean …?` (or the keys this table takes)."""
    close = suggestion(word, known)
    if close:
        return f"unknown key; did you mean {close}?"
    return "unknown key; this table takes " + ", ".join(known) if known else "unknown key"


def choice_message(given: str, choices: list[str]) -> str:
    said = "must be one of " + ", ".join(f'"{c}"' for c in choices)
    close = suggestion(given, choices)
    return f'{said}; did you mean "{close}"?' if close else said


def _known(root: Shape, data: Any, parent: Loc) -> list[str]:
    """The keys a table takes, found by walking the data to it."""
    shape: Shape | None = root
    node = data
    for step in parent:
        shape = child(shape, node, step) if shape is not None else None
        node = _step(node, step)
    resolved = pick(shape, node) if shape is not None else None
    if resolved is None or resolved.model is None:
        return []
    return list(keys_of(resolved.model))


def _step(node: Any, step: str | int) -> Any:
    if isinstance(step, int):
        return node[step] if isinstance(node, list) and step < len(node) else None
    return node.get(step) if isinstance(node, dict) else None


def hidden_errors(model: Any, data: Any, errors: list[Any], root: Shape) -> list[Any]:
    """Errors of whole-table checks (`auth_type = "password" needs a reset_url`) that pydantic
    skips while a key of the table is invalid: validated again with the invalid keys left out
    (their defaults apply), so they are said in the same round. A check that names a key left
    out is not repeated: it would blame a key that is there but wrong."""
    from pydantic import ValidationError

    pruned = copy.deepcopy(data)
    dropped: list[Loc] = []
    for error in errors:
        loc = place(error["loc"], root, data)[0]
        parent = _at(pruned, loc[:-1])
        if loc and isinstance(parent, dict) and loc[-1] in parent:
            del parent[loc[-1]]
            dropped.append(loc)
    if not dropped:
        return []
    try:
        model.model_validate(pruned)
    except ValidationError as exc:
        names = {str(loc[-1]) for loc in dropped}
        return [
            e
            for e in exc.errors()
            if e["type"] == "value_error"
            and not any(re.search(rf"\b{re.escape(n)}\b", e["msg"]) for n in names)
            and not any(_under(place(e["loc"], root, pruned)[0], loc) for loc in dropped)
        ]
    return []


def _at(node: Any, loc: Loc) -> Any:
    for step in loc:
        node = _step(node, step)
    return node


def _under(loc: Loc, dropped: Loc) -> bool:
    return loc[: len(dropped)] == dropped
