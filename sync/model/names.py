"""The key under which account names are unique (SPEC §3): the store indexes it, the naming
logic compares by it."""

from __future__ import annotations


def name_key(name: str) -> str:
    """Case-insensitive (SPEC §3). A name that is its own key (most are lower-case) is returned
    itself rather than as a copy: a run holds keys for every account and every claim, 100,000
    of each at that size."""
    key = name.casefold()
    return name if key == name else key
