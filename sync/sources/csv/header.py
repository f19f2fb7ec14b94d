"""Checking a CSV header against the columns a run needs, before any row is read.

A column the run asks for and the header lacks would read as empty for everyone, and the plan
would then erase that field from every account: so it fails the read, with the near names the
header does have (a renamed column) and the two usual export mistakes spelled out (a `;` or tab
delimiter, a byte-order mark read as `utf-8`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from sync.errors import IncompleteRead

OTHER_DELIMITERS = (",", ";", "\t", "|")
BOM = "\ufeff"


def check_header(
    header: list[str],
    wanted: Mapping[str, str],
    fields: frozenset[str],
    delimiter: str,
    where: str,
    header_ended: bool,
) -> None:
    """Raises IncompleteRead unless every column of `wanted` (attribute -> column) and every
    raw field (a lookup's match field) is there.

    `where` names the file; `header_ended` is false when the header line has no newline (a file
    cut off inside its first line).
    """
    where = f"{where}, line 1"
    if header and header[0].startswith(BOM):
        raise IncompleteRead(
            f'{where}: the file starts with a byte-order mark: use encoding = "utf-8-sig"'
        )
    missing = {a: c for a, c in wanted.items() if c not in header}
    absent_fields = sorted(fields - set(header))
    if not missing and not absent_fields:
        _check_unique(header, [*wanted.values(), *fields], where)
        return
    _check_delimiter(header, delimiter, where)
    used = {c for c in [*wanted.values(), *fields] if c in header}
    text = _missing_columns(header, missing, used, absent_fields)
    cut = " (the header line has no end: the file may be cut off)" if not header_ended else ""
    raise IncompleteRead(f"{where}: {text}{cut}")


def _check_delimiter(header: list[str], delimiter: str, where: str) -> None:
    """A header read as one column holding another delimiter is a delimiter mistake."""
    if len(header) != 1:
        return
    others = [d for d in OTHER_DELIMITERS if d != delimiter]
    likeliest = max(others, key=header[0].count)
    if likeliest in header[0]:
        raise IncompleteRead(
            f"{where}: the header reads as one column {header[0]!r} with delimiter = "
            f"{_toml(delimiter)}: did you mean delimiter = {_toml(likeliest)}?"
        )


def _missing_columns(
    header: list[str], missing: dict[str, str], used: set[str], absent_fields: list[str]
) -> str:
    """What the header lacks, with near names (among the columns no other attribute reads),
    and how to say a column is really absent."""
    spare = [h for h in header if h and h not in used]
    # the near names first: a renamed column is the likelier mistake
    order = sorted(missing, key=lambda a: (not near_names(missing[a], spare), a != "source_id", a))
    alone = len(order) + len(absent_fields) == 1
    named = [_named(a, missing[a], spare, alone) for a in order]
    named += [f"{f!r} (a lookup's match field)" for f in absent_fields]
    text = f"the header has no column {named[0]}" if len(named) == 1 else (
        "the header has no columns " + ", ".join(named)
    )  # fmt: skip
    unmatched = [a for a in order if a != "source_id" and not near_names(missing[a], spare)]
    if unmatched:
        text += (
            f"; if the file really holds no {', '.join(unmatched)}, set "
            f'[tenants.source.attributes] {unmatched[0]} = ""'
            + (" (and so on)" if len(unmatched) > 1 else "")
            + ": that field is then emptied on every account"
        )
    return text


def _named(attribute: str, column: str, spare: list[str], alone: bool) -> str:
    text = repr(column)
    if column != attribute:
        text += f" (attributes.{attribute})"
    near = near_names(column, spare)
    if near:
        hint = f"did you mean {near[0]!r}? If so, set [tenants.source.attributes] "
        hint += f"{attribute} = {_toml(near[0])}"
        text += f": {hint}" if alone else f" ({hint})"
    return text


def near_names(column: str, candidates: Iterable[str]) -> list[str]:
    """Header names that look like `column`: the same but for case, spaces and underscores,
    then one containing the other (`mail` for `primary_email`), then a close spelling."""
    key = _key(column)
    keyed = {_key(c): c for c in candidates if _key(c)}
    same = [c for k, c in keyed.items() if k == key]
    within = [c for k, c in keyed.items() if len(k) >= 3 and (k in key or key in k)]
    close = [keyed[k] for k in difflib.get_close_matches(key, list(keyed), n=3, cutoff=0.7)]
    return list(dict.fromkeys(same + within + close))


def spelled_otherwise(column: str, header: list[str]) -> bool:
    """Whether the header has `column` only under another case or spacing (`Active`)."""
    return column not in header and any(_key(h) == _key(column) for h in header)


def _check_unique(header: list[str], columns: Iterable[str], where: str) -> None:
    counts = Counter(header)
    twice = sorted({c for c in columns if counts[c] > 1})
    if twice:
        raise IncompleteRead(
            f"{where}: the header names column {twice[0]!r} {counts[twice[0]]} times: "
            "which one holds the value is unclear"
        )


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.casefold())


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
