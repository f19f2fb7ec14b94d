"""Collision resolution (SPEC §4): tables for each behaviour, properties for the invariants."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.compose.collisions import Assigned, Claim, Conflict, NameBook, resolve
from sync.compose.normalize import name_key


def names(outcome: dict[str, Assigned | Conflict]) -> dict[str, str]:
    return {k: v.name if isinstance(v, Assigned) else f"!{v.holder}" for k, v in outcome.items()}


@pytest.mark.parametrize(
    ("claims", "book", "policy", "expected"),
    [
        # later claimants (by source id, not input order) get the first free suffix
        (
            [("b", "taro"), ("a", "taro"), ("c", "taro")],
            NameBook(),
            "suffix",
            {"a": "taro", "b": "taro-2", "c": "taro-3"},
        ),
        # the suffix of an email-shaped name goes before the @
        (
            [("a", "taro@example.com"), ("b", "taro@example.com")],
            NameBook(),
            "suffix",
            {"a": "taro@example.com", "b": "taro-2@example.com"},
        ),
        # the holder keeps its name, case-insensitively
        ([("new", "Taro")], NameBook(held={"taro": ("old", "taro")}), "suffix", {"new": "Taro-2"}),
        ([("new", "taro")], NameBook(held={"taro": ("old", "taro")}), "reject", {"new": "!taro"}),
        # reserved and quarantined names go to nobody else
        ([("a", "admin")], NameBook(reserved={"admin"}), "suffix", {"a": "admin-2"}),
        ([("a", "admin")], NameBook(reserved={"admin"}), "reject", {"a": "!admin (reserved)"}),
        ([("a", "ex")], NameBook(quarantined={"ex": "z"}), "suffix", {"a": "ex-2"}),
        # ... but the account that released a name may take it back
        ([("z", "ex")], NameBook(quarantined={"ex": "z"}), "suffix", {"z": "ex"}),
        # a user whose own name is taro-2 is not beaten to it by a suffixed taro
        (
            [("a", "taro"), ("b", "taro"), ("c", "taro-2")],
            NameBook(),
            "suffix",
            {"a": "taro", "c": "taro-2", "b": "taro-3"},
        ),
        # a suffix skips names held by accounts
        (
            [("b", "taro")],
            NameBook(held={"taro": ("a", "taro"), "taro-2": ("x", "taro-2")}),
            "suffix",
            {"b": "taro-3"},
        ),
    ],
)
def test_resolution(
    claims: list[tuple[str, str]], book: NameBook, policy: str, expected: dict[str, str]
) -> None:
    outcome = resolve([Claim(i, n) for i, n in claims], book, policy)
    assert names(outcome) == expected


def test_a_suffix_too_long_for_the_pattern_is_a_conflict() -> None:
    base = "x" * 128
    outcome = resolve(
        [Claim("a", base), Claim("b", base)], NameBook(), "suffix", lambda n: len(n) <= 128
    )
    assert names(outcome) == {"a": base, "b": f"!{base}"}


base_names = st.sampled_from(
    [
        "taro",
        "Taro",
        "hanako",
        "taro-2",
        "admin",
        "t@example.com",
        "T@example.com",
        "t-2@example.com",
        "ex",
    ]
)
claim_lists = st.lists(
    st.tuples(st.text("abcdefgh", min_size=1, max_size=3), base_names),
    max_size=25,
    unique_by=lambda c: c[0],
)
books = st.builds(
    lambda held, reserved: NameBook(
        held={name_key(n): (f"holder-{i}", n) for i, n in enumerate(held)},
        reserved={name_key(r) for r in reserved},
        quarantined={"ex": "holder-x"},
    ),
    st.lists(base_names, max_size=4, unique_by=name_key),
    st.lists(base_names, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(claim_lists, books, st.sampled_from(["suffix", "reject"]), st.randoms())
def test_invariants(
    claims: list[tuple[str, str]], book: NameBook, policy: str, rnd: random.Random
) -> None:
    objects = [Claim(i, n) for i, n in claims]
    outcome = resolve(objects, book, policy)
    given_names = [v.name for v in outcome.values() if isinstance(v, Assigned)]
    # unique case-insensitively, among themselves and against every unavailable name
    assert len({name_key(n) for n in given_names}) == len(given_names)
    for sid, decision in outcome.items():
        if isinstance(decision, Assigned):
            assert book.blocker(decision.name, sid) is None
    # independent of the order the source returned the users in
    shuffled = objects[:]
    rnd.shuffle(shuffled)
    assert resolve(shuffled, book, policy) == outcome
    # every claimant gets an answer; with suffixes nobody is refused while names are short
    assert set(outcome) == {c.source_id for c in objects}
    if policy == "suffix":
        assert all(isinstance(v, Assigned) for v in outcome.values())
