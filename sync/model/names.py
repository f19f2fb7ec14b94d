"""The key under which account names are unique (SPEC §3): the store indexes it, the naming
logic compares by it."""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """Case-insensitive (SPEC §3), and NFKC first, so a name an administrator types in full
    width (`ＥＭＰ００１` at the console's sign-in, the forgotten-password page, a CLI argument)
    finds the account `EMP001`. Stored names are NFKC already: their keys are what plain
    case-folding made of them. A name that is its own key (most are lower-case) is returned
    itself rather than as a copy: a run holds keys for every account and every claim, 100,000 of
    each at that size."""
    key = (name if name.isascii() else unicodedata.normalize("NFKC", name)).casefold()
    return name if key == name else key
