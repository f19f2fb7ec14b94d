"""The scim source's mapping (SPEC §17): one case per rule of the primary address and the
fields, on the JSON the SCIM service stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync.model.pushed import PushedUser
from sync.sources.scim.mapping import ENTERPRISE, to_user

WHEN = datetime(2026, 12, 7, tzinfo=UTC)


def _user(resource: dict[str, Any], active: bool = True) -> PushedUser:
    return PushedUser("id-1", active, {"userName": "u", **resource}, WHEN)


@pytest.mark.parametrize(
    ("emails", "primary"),
    [
        ([{"value": "a@x"}, {"value": "b@x", "type": "work"}, {"value": "c@x", "primary": True}],
         "c@x"),
        ([{"value": "a@x", "type": "home"}, {"value": "b@x", "type": "work"}], "b@x"),
        ([{"value": "a@x", "type": "home"}, {"value": "b@x", "type": "other"}], "a@x"),
        ([], None),
    ],
)  # fmt: skip
def test_the_primary_address_is_the_primary_else_the_work_else_the_first(
    emails: list[dict[str, Any]], primary: str | None
) -> None:
    user = to_user(_user({"emails": emails}), frozenset())
    assert user.primary_email == primary
    assert user.emails == tuple(e["value"] for e in emails)


def test_fields_come_from_their_scim_attributes() -> None:
    resource = {
        "userName": "Taro.Yamada",
        "displayName": "山田 太郎",
        "name": {"givenName": "太郎", "familyName": "山田"},
        ENTERPRISE: {"employeeNumber": "E001"},
    }
    user = to_user(_user(resource, active=False), frozenset({"Sales"}))
    assert (user.source_id, user.active, user.user_name) == ("id-1", False, "Taro.Yamada")
    assert (user.given_name, user.family_name, user.display_name) == ("太郎", "山田", "山田 太郎")
    assert user.employee_code == "E001" and user.groups == frozenset({"Sales"})
    assert user.attribute("user_name") == "Taro.Yamada"  # usable in a custom template
