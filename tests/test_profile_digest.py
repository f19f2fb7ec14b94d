"""sync.model.profile.digest_of: the digest every stored account keeps. Stores written by earlier
versions compare against it, so its value for a given profile must never change."""

from __future__ import annotations

from sync.model.profile import Profile, ProfileValues, digest_of


def test_the_digest_of_a_profile_is_the_one_stores_already_hold() -> None:
    # the values the first version wrote for these profiles
    full = ProfileValues("crew1@example.co.jp", ("crew1@example.co.jp", "c1@example.jp"),
                         "E00001", "太郎", None, "山田1 太郎")  # fmt: skip
    assert digest_of(full) == "37018a0264eb9b40e71a205ec2e1333f"
    assert digest_of(ProfileValues()) == "811a314dd3be10bcab5328f72c03ec29"


def test_a_missing_field_and_an_empty_one_digest_apart() -> None:
    assert digest_of(ProfileValues(given_name=None)) != digest_of(ProfileValues(given_name=""))
    moved = ProfileValues(given_name="a", family_name=None)
    assert digest_of(moved) != digest_of(ProfileValues(given_name=None, family_name="a"))


def test_a_packed_profile_digests_as_its_values() -> None:
    values = ProfileValues("a@example.com", ("a@example.com",), "E1", "太郎", "山田", "山田 太郎")
    assert Profile(*values).digest() == digest_of(values)
