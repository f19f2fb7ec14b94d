"""One user read alone (ReadRequest.only, SPEC §18 `explain` and `sync --only`) through the real
simple-salesforce: the read's own SOQL with `AND Id = '…'`, one query request and no next page,
no record as nobody, a key that is not a record Id (or a tenant whose source id is another
field) read as the whole query; the user read alone is the same, groups included, as in the
whole read."""

from __future__ import annotations

from sync.model import PROFILE_ATTRIBUTES
from sync.sources.base import ReadRequest
from sync.sources.settings import SalesforceSourceSettings
from tests.conftest import Workspace
from tests.salesforce.emulator import SalesforceEmulator
from tests.salesforce.helpers import JwtKeys, Tls, read_all, salesforce_keys
from tests.salesforce.test_salesforce_groups import directory, user_id
from tests.support.explained import explain

GROUPS = frozenset({"staff", "Sales_Team"})


def one(key: str | None) -> ReadRequest:
    return ReadRequest(frozenset(PROFILE_ATTRIBUTES), groups=GROUPS, only=key)


def user_queries(emulator: SalesforceEmulator) -> list[str]:
    return [q for q in emulator.queries if " FROM User" in q]


def test_a_user_by_id_is_one_query_and_the_same_user_as_in_the_whole_read(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    directory(emulator)
    whole, _ = read_all(settings, one(None))
    [from_whole] = [u for p in whole for u in p.users if u.source_id == user_id(3)]
    [whole_query] = user_queries(emulator)
    emulator.queries.clear()

    pages, result = read_all(settings, one(user_id(3)))

    assert [u for p in pages for u in p.users] == [from_whole]
    assert from_whole.groups == GROUPS  # nested: Sales holds Team, which holds user 3
    assert (result.full, result.watermark) == (False, None)  # partial: nobody is gone
    [query] = user_queries(emulator)
    assert query == whole_query.replace(" ORDER BY", f" AND Id = '{user_id(3)}' ORDER BY")
    assert result.stats["pages"] == 1


def test_an_unknown_id_is_nobody(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    unknown = "005000000000000999"
    before = emulator.data_requests
    pages, result = read_all(settings, ReadRequest(frozenset({"primary_email"}), only=unknown))
    assert [p for p in pages if p.users or p.issues] == []
    assert result.full is False
    [query] = user_queries(emulator)
    assert query.endswith(f" AND Id = '{unknown}' ORDER BY Id")
    assert emulator.data_requests - before == 1  # the query alone: no next page


def test_a_key_that_is_not_a_record_id_reads_the_whole_query(
    emulator: SalesforceEmulator, settings: SalesforceSourceSettings
) -> None:
    for key in ("user2@acme.example", "005' OR Id != '", "0050000000000002"):  # 16 characters
        read_all(settings, ReadRequest(frozenset({"primary_email"}), only=key))
    by_federation = settings.model_copy(
        update={"attributes": {"source_id": "FederationIdentifier"}}
    )
    read_all(by_federation, ReadRequest(frozenset({"primary_email"}), only=user_id(2)))
    assert len(user_queries(emulator)) == 4
    assert not any("Id = " in q for q in user_queries(emulator))


def test_explain_and_only_read_the_user_alone(
    workspace: Workspace, emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys
) -> None:
    workspace.tenant["source"] = salesforce_keys(emulator, tls, jwt_keys)
    workspace.configure()
    assert workspace.sync()["status"] == "succeeded"
    emulator.users[1]["LastName"] = "Renamed"
    emulator.users[0]["LastName"] = "Other"
    emulator.queries.clear()

    told = explain(workspace, user_id(2))
    assert (told["action"], told["source_id"]) == ("update", user_id(2))
    assert "this person's entry alone" in told["read"]
    [query] = user_queries(emulator)
    assert query.endswith(f" AND Id = '{user_id(2)}' ORDER BY Id")

    emulator.queries.clear()
    report = workspace.sync("--only", user_id(2))
    assert (report["on_demand"], report["full"]) == (True, False)
    assert (report["source"]["users_read"], report["counts"]["updated"]) == (1, 1)
    assert len(user_queries(emulator)) == 1
    accounts = workspace.accounts()
    assert (accounts["user2"]["family_name"], accounts["user1"]["family_name"]) == (
        "Renamed",
        "Last1",
    )
