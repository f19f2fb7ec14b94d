"""A custom name template and its filters (SPEC §2, §18), parsed once.

`{family_name_yomi|romaji|initial}.{given_name_yomi|romaji}`: literal text and `{…}` fields; a
field names an attribute and the filters that transform its value, applied left to right. `{{` and
`}}` write a brace. The value a filter gets is the attribute as normalised (NFKC, surrounding white
space removed); a filter that leaves nothing makes the person's `missing_attribute` issue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sync.compose.romaji import as_written, passport_spelling
from sync.model import TEXT_ATTRIBUTES

# Fields a custom template may use: every text attribute, plus the derived local part.
TEMPLATE_FIELDS: tuple[str, ...] = (*TEXT_ATTRIBUTES, "email_local_part")
FILTERS = ("romaji", "romaji(passport)", "lower", "upper", "initial", "ascii", "truncate(N)")
_FILTER = re.compile(r"([a-z_]+)(?:\((.*)\))?", re.DOTALL)
_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")

Transform = Callable[[str], str | None]


class TemplateError(ValueError):
    """A template that cannot be used; the message names the template and what is wrong."""


def _ascii(value: str) -> str | None:
    # the value is kept only when it is ASCII through and through once NFKC has made
    # full-width letters plain (ＹＡＭＡＤＡ is kept as YAMADA; 山田 or Müller yield nothing)
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    return text if text.isascii() else None


_PLAIN: dict[str, Transform] = {
    "romaji": as_written,
    "lower": str.lower,
    "upper": str.upper,
    "initial": lambda value: value[:1],
    "ascii": _ascii,
}


@dataclass(frozen=True, slots=True)
class Filter:
    spelled: str  # as the template writes it: "romaji(passport)", "truncate(8)"
    apply: Transform


@dataclass(frozen=True, slots=True)
class Field:
    attribute: str
    filters: tuple[Filter, ...] = ()

    @property
    def spelled(self) -> str:
        return "|".join((self.attribute, *(f.spelled for f in self.filters)))


@dataclass(frozen=True, slots=True)
class Missing:
    """A field that yields nothing: its attribute is empty, or `filter` left nothing of it."""

    field: Field
    value: str | None = None  # what the failing filter was given
    filter: str | None = None

    @property
    def detail(self) -> str:
        if self.filter is None:
            return self.field.attribute
        return f"{self.field.spelled} ({self.filter} yields nothing for {self.value!r})"


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    pieces: tuple[tuple[str, Field | None], ...]  # (literal, field) pairs

    @property
    def attributes(self) -> frozenset[str]:
        return frozenset(field.attribute for _, field in self.pieces if field)

    def fill(self, value_of: Callable[[str], str | None]) -> str | Missing:
        """The template with each field's value (`value_of(attribute)`, normalised) filtered."""
        parts: list[str] = []
        for literal, field in self.pieces:
            parts.append(literal)
            if field is None:
                continue
            value = value_of(field.attribute)
            if value is None:
                return Missing(field)
            for step in field.filters:
                result = step.apply(value)
                if not result:
                    return Missing(field, value, step.spelled)
                value = result
            parts.append(value)
        return "".join(parts)


def parse_template(text: str) -> Template:
    """TemplateError naming the template for an unclosed or stray brace, an unknown attribute or
    filter, a filter's bad argument, or a template without any field."""
    pieces: list[tuple[str, Field | None]] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if text.startswith(("{{", "}}"), position):
            literal.append(char)
            position += 2
        elif char == "}":
            raise _error(text, f"a single '}}' at position {position} (write '}}}}' for a brace)")
        elif char == "{":
            end = text.find("}", position)
            inner = text[position + 1 : end] if end >= 0 else ""
            if end < 0 or "{" in inner:
                raise _error(text, f"the '{{' at position {position} is never closed")
            pieces.append(("".join(literal), _field(text, inner)))
            literal = []
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if not pieces:
        raise _error(text, "uses no attribute")
    pieces.append(("".join(literal), None))
    return Template(text, tuple(pieces))


def _field(template: str, inner: str) -> Field:
    attribute, *filters = (part.strip() for part in inner.split("|"))
    if attribute not in TEMPLATE_FIELDS:
        known = ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
        raise _error(template, f"{{{inner}}}: {{{attribute}}} is not one of {known}")
    return Field(attribute, tuple(_filter(template, inner, spelled) for spelled in filters))


def _filter(template: str, inner: str, spelled: str) -> Filter:
    match = _FILTER.fullmatch(spelled)
    name, argument = (match[1], match[2]) if match else (spelled, None)
    where = f"{{{inner}}}: filter {spelled!r}"
    if not match or (name not in _PLAIN and name != "truncate"):
        raise _error(template, f"{where} is unknown; filters: {', '.join(FILTERS)}")
    if name == "truncate":
        if argument is None or not _WHOLE_NUMBER.fullmatch(argument.strip()):
            raise _error(template, f"{where}: truncate takes a whole number ≥ 1, like truncate(8)")
        size = int(argument)
        return Filter(spelled, lambda value: value[:size])
    if name == "romaji" and argument is not None:
        if argument.strip() != "passport":
            raise _error(template, f"{where}: romaji takes no argument or (passport)")
        return Filter(spelled, passport_spelling)
    if argument is not None:
        raise _error(template, f"{where}: {name} takes no argument")
    return Filter(spelled, _PLAIN[name])


def _error(template: str, problem: str) -> TemplateError:
    return TemplateError(f"custom_template {template!r}: {problem}")
