"""Ids people can type (SPEC §14): runs and change sets are shown by the first eight characters
of their UUID, and any unique prefix of eight or more finds one."""

from __future__ import annotations

SHORT_ID_LENGTH = 8


def short_id(full: str) -> str:
    return full[:SHORT_ID_LENGTH]


def id_prefix(typed: str, what: str) -> str:
    """The prefix as stored ids are spelt (lower case, no spaces); a usage error below 8."""
    from sync.errors import UsageError  # here, not at the top: sync.errors imports sync.model

    prefix = typed.strip().lower()
    if len(prefix) < SHORT_ID_LENGTH or not all(c in "0123456789abcdef-" for c in prefix):
        raise UsageError(
            f"{what} id {typed!r}: give at least {SHORT_ID_LENGTH} characters of it "
            f"(hexadecimal, as `list` shows)"
        )
    return prefix


def the_one(typed: str, found: list[str], what: str, listing: str) -> str:
    """The one id found for what was typed; a usage error naming the others, or none."""
    from sync.errors import UsageError  # here, not at the top: sync.errors imports sync.model

    if not found:
        raise UsageError(f"no {what} {typed!r} (see `clomo-sync {listing}`)")
    if len(found) > 1:
        raise UsageError(f"{what} {typed!r} is ambiguous: {', '.join(found)}; type more of it")
    return found[0]
