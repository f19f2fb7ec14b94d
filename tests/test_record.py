"""sync.model.record: built without the frozen dataclass's runtime guard, immutable to mypy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mypy import api as mypy_api

from sync.model.changes import AccountState
from sync.model.directory import DirectoryUser
from sync.model.record import record


@record
class _Point:
    x: int
    tags: tuple[str, ...] = dataclasses.field(default=())


def test_a_record_is_a_slotted_dataclass_equal_and_hashed_by_its_fields() -> None:
    a, b = _Point(1, ("t",)), _Point(1, ("t",))
    assert a == b and hash(a) == hash(b)
    assert a != _Point(2) and len({a, b, _Point(2)}) == 2
    assert not hasattr(a, "__dict__")
    assert dataclasses.replace(a, x=3) == _Point(3, ("t",))
    assert a.tags == ("t",) and _Point(5).tags == ()


def test_the_hot_types_are_records_and_hash_as_frozen_dataclasses_did() -> None:
    user = DirectoryUser("u1", primary_email="a@example.com", groups=frozenset({"g"}))
    assert hash(user) == hash(dataclasses.replace(user))
    state = AccountState(1, "a", None, True, False, "digest")
    assert {state: 1}[AccountState(1, "a", None, True, False, "digest")] == 1


def test_assigning_a_field_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "assign.py"
    snippet.write_text(
        "from sync.model.directory import DirectoryUser\n"
        "from sync.model.record import record\n"
        "@record\n"
        "class P:\n"
        "    x: int\n"
        "P(1).x = 2\n"
        "DirectoryUser('u').active = False\n",
        encoding="utf-8",
    )
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)]
    )
    assert status == 1
    assert out.count("is read-only") == 2, out
