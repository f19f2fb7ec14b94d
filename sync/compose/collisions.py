"""Collision resolution (SPEC §4): who gets which name when several want one.

Input is values only: the names already held, the names nobody may take, and this run's claims.
The outcome depends only on those values, never on the order the source returned users in:
claimants are served in order of their immutable source id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field

from sync.compose.normalize import name_key, split_email


@dataclass(frozen=True, slots=True)
class Claim:
    source_id: str
    base: str  # the composed, valid name


@dataclass(frozen=True, slots=True)
class Assigned:
    name: str
    blocker: str | None = None  # for a suffixed name: who held the base name (as in Conflict)


@dataclass(frozen=True, slots=True)
class Conflict:
    holder: str  # the name as held, with why it is unavailable where that is not an account


@dataclass(slots=True)
class NameBook:
    """Names that are not free. Keys are `name_key`s.

    `held`: current names of accounts -> (holder's source id, name as written).
    `reserved`: the tenant's reserved names. `quarantined`: recently released name -> the source id
    of the account that released it (only that account may take it back).
    """

    # a plan of one person is given a mapping that asks the store for each key it is asked for
    held: MutableMapping[str, tuple[str, str]] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    quarantined: dict[str, str] = field(default_factory=dict)

    def blocker(self, name: str, claimant: str) -> str | None:
        """Why `name` is unavailable to `claimant`, as the holder's name; None when free."""
        key = name_key(name)
        holder = self.held.get(key)
        if holder is not None and holder[0] != claimant:
            return holder[1]
        if key in self.reserved:
            return f"{name} (reserved)"
        owner = self.quarantined.get(key)
        if owner is not None and owner != claimant:
            return f"{name} (released by a rename, in quarantine)"
        return None


def resolve(
    claims: Iterable[Claim],
    book: NameBook,
    policy: str = "suffix",
    is_valid: Callable[[str], bool] = lambda _name: True,
) -> dict[str, Assigned | Conflict]:
    """Decides every claim (`contested`, and each other claimant given its base name)."""
    ordered = sorted(claims, key=lambda claim: claim.source_id)
    outcome = contested(ordered, book, policy, is_valid)
    return {c.source_id: outcome.get(c.source_id) or Assigned(c.base) for c in ordered}


def contested(
    claims: Iterable[Claim],
    book: NameBook,
    policy: str = "suffix",
    is_valid: Callable[[str], bool] = lambda _name: True,
) -> dict[str, Assigned | Conflict]:
    """The claims not given their base name, decided. A first pass gives each free base name to
    its first claimant by source id; a second serves the others a suffixed name ("suffix") or a
    Conflict ("reject"), so a user whose own name is `taro-2` is never beaten to it by a
    suffixed `taro`. Those given their base name are left out: a first run's 100,000 claimants
    nearly all are, and an object each would be one more at the run's memory peak."""
    ordered = sorted(claims, key=lambda claim: claim.source_id)
    taken: dict[str, str] = {}  # key -> name given in this run
    outcome: dict[str, Assigned | Conflict] = {}
    losers: list[tuple[Claim, str]] = []
    for claim in ordered:
        key = name_key(claim.base)
        blocker = book.blocker(claim.base, claim.source_id) or taken.get(key)
        if blocker is None:
            taken[key] = claim.base
        else:
            losers.append((claim, blocker))
    for claim, blocker in losers:
        if policy == "reject":
            outcome[claim.source_id] = Conflict(blocker)
            continue
        suffixed = _first_free(claim, book, taken, is_valid)
        outcome[claim.source_id] = Assigned(suffixed, blocker) if suffixed else Conflict(blocker)
        if suffixed:
            taken[name_key(suffixed)] = suffixed
    return outcome


def _first_free(
    claim: Claim, book: NameBook, taken: Mapping[str, str], is_valid: Callable[[str], bool]
) -> str | None:
    """`base-2`, `base-3`, …, the suffix before the `@` of an email-shaped name. Only so many
    names can be in use, so the search is bounded; None when every candidate is too long."""
    head, tail = split_email(claim.base)
    limit = len(book.held) + len(book.reserved) + len(book.quarantined) + len(taken) + 2
    for number in range(2, limit + 1):
        candidate = f"{head}-{number}{tail}"
        if not is_valid(candidate):
            return None
        if name_key(candidate) not in taken and book.blocker(candidate, claim.source_id) is None:
            return candidate
    return None
