"""The shape of the configuration, read from the settings models themselves.

One walker serves everything that must know which keys exist where: unknown keys in the file and
in environment overrides ("did you mean"), which keys are paths (resolved from the file's
folder), and the generated reference (docs/configuration.md). A new key or source kind added to
a model is picked up with no change here.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


@dataclass(frozen=True)
class Shape:
    """What a value at one place of the configuration is.

    kind: "model" (a table with known keys), "list" (of `item`), "union" (a table whose `kind`
    key picks the model among `choices`), "free" (a table of any keys), or "value".
    """

    kind: str
    model: type[BaseModel] | None = None
    item: Shape | None = None
    choices: dict[str, type[BaseModel]] = field(default_factory=dict)
    literals: tuple[str, ...] = ()
    is_path: bool = False
    is_text: bool = False  # text, a path or a choice: an override is taken as written


def shape_of(annotation: Any) -> Shape:
    """The shape of a field's annotation (Annotated, Optional and unions of models unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return shape_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(models) > 1:
            return Shape("union", choices={_tag(m): m for m in models})
        if len(members) == 1:
            return shape_of(members[0])
        return Shape("value", is_path=Path in members, is_text=str in members or Path in members)
    if origin in (tuple, list):
        return Shape("list", item=shape_of(get_args(annotation)[0]))
    if origin is dict or annotation is dict:
        return Shape("free")
    if origin is Literal:
        return Shape("value", literals=tuple(str(a) for a in get_args(annotation)), is_text=True)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", model=annotation)
    return Shape("value", is_path=annotation is Path, is_text=annotation in (str, Path))


def _tag(model: type[BaseModel]) -> str:
    """The `kind` value that picks this model from a union of sources."""
    return shape_of(model.model_fields["kind"].annotation).literals[0]


def keys_of(model: type[BaseModel]) -> dict[str, Any]:
    """The keys a table of this model takes (fields marked exclude are not keys of the file)."""
    return {name: info for name, info in model.model_fields.items() if not info.exclude}


def pick(shape: Shape, node: Any) -> Shape | None:
    """A union resolved by the table's `kind` (None while the kind is unknown)."""
    if shape.kind != "union":
        return shape
    kind = node.get("kind") if isinstance(node, dict) else None
    model = shape.choices.get(kind) if isinstance(kind, str) else None
    return Shape("model", model=model) if model else None


def child(shape: Shape, node: Any, step: str | int) -> Shape | None:
    """The shape one step down (a key of a table or an item of a list), None when unknown."""
    resolved = pick(shape, node)
    if resolved is None:
        return None
    if resolved.kind == "list":
        return resolved.item
    if resolved.kind == "model" and resolved.model is not None:
        info = keys_of(resolved.model).get(str(step))
        return shape_of(info.annotation) if info is not None else None
    return None


def suggestion(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of `choices` to a mistyped `word`, if one is close enough to be meant."""
    close = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not close:
        return None
    return next(c for c in choices if c.lower() == close[0])


def walk_values(
    shape: Shape, node: Any, loc: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Shape, dict[str, Any], str]]:
    """Every (location, shape, parent table, key) of a value in raw configuration data whose
    place the models know, so callers can check or rewrite it in place."""
    found: list[tuple[tuple[str | int, ...], Shape, dict[str, Any], str]] = []
    resolved = pick(shape, node)
    if resolved is None:
        return found
    if resolved.kind == "list" and isinstance(node, list) and resolved.item is not None:
        for index, item in enumerate(node):
            found += walk_values(resolved.item, item, (*loc, index))
    elif resolved.kind == "model" and resolved.model is not None and isinstance(node, dict):
        for key, info in keys_of(resolved.model).items():
            if key in node:
                sub = shape_of(info.annotation)
                found.append(((*loc, key), sub, node, key))
                found += walk_values(sub, node[key], (*loc, key))
    return found
