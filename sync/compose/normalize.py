"""Normalisation of names and addresses (SPEC §3)."""

from __future__ import annotations

import unicodedata


def normalize_text(value: str | None) -> str | None:
    """NFKC (full-width `ＥＭＰ００１` becomes `EMP001`), surrounding white space removed;
    None for nothing left."""
    if value is None:
        return None
    # NFKC leaves ASCII as it is: skip it for the common case (it is a hot path at 100k users)
    text = (value if value.isascii() else unicodedata.normalize("NFKC", value)).strip()
    return text or None


def normalize_email(value: str | None) -> str | None:
    """An address with its domain lower-cased (the local part is kept as written)."""
    text = normalize_text(value)
    if text is None:
        return None
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    return f"{local}@{domain.lower()}"


def name_key(name: str) -> str:
    """The key under which names are unique: case-insensitive (SPEC §3), and NFKC first, so a
    name an administrator types in full width (`ＥＭＰ００１` at the console's sign-in, the
    forgotten-password page, a CLI argument) finds the account `EMP001`. Stored names are NFKC
    already: their keys are what plain case-folding made of them. A name that is its own key
    (most are lower-case) is returned itself rather than as a copy: a run holds keys for every
    account and every claim, 100,000 of each at that size."""
    key = (name if name.isascii() else unicodedata.normalize("NFKC", name)).casefold()
    return name if key == name else key


def split_email(name: str) -> tuple[str, str]:
    """(local part, "@domain") split at the last `@`; ("name", "") for a name that is not one."""
    local, at, domain = name.rpartition("@")
    if not at or not local:
        return name, ""
    return local, at + domain
