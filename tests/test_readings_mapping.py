"""Sources without a default place for readings (Entra ID, Google Workspace, Salesforce):
a template that needs one says so at once, and a field mapped in `[tenants.source.attributes]`
gives it (SPEC §18)."""

from __future__ import annotations

import pytest

from sync.errors import StopRun
from sync.model import DirectoryUser
from sync.sources.base import ReadRequest
from sync.sources.entra_id import fields as entra
from sync.sources.google_workspace import fields as google
from sync.sources.salesforce.soql import UserQuery
from sync.sources.settings import SalesforceSourceSettings

READINGS = frozenset({"family_name_yomi", "given_name_yomi"})
ASKED = ReadRequest(READINGS | {"primary_email"}, required=READINGS)


def test_entra_id_reads_readings_from_mapped_properties() -> None:
    with pytest.raises(ValueError, match="no default property for family_name_yomi, given_"):
        entra.plan_fields(ASKED, {})
    mapped = {"family_name_yomi": "onPremisesExtensionAttributes.extensionAttribute1",
              "given_name_yomi": "onPremisesExtensionAttributes.extensionAttribute2"}  # fmt: skip
    plan = entra.plan_fields(ASKED, mapped)
    assert "onPremisesExtensionAttributes" in plan.select().split(",")
    resource = {"id": "e-1", "mail": "taro@example.com", "onPremisesExtensionAttributes": {
        "extensionAttribute1": "ヤマダ", "extensionAttribute2": "タロウ"}}  # fmt: skip
    user = entra.to_user(resource, plan, "Graph")
    assert isinstance(user, DirectoryUser)
    assert (user.family_name_yomi, user.given_name_yomi) == ("ヤマダ", "タロウ")


def test_google_workspace_reads_readings_from_mapped_custom_schema_fields() -> None:
    with pytest.raises(ValueError, match="no default field for family_name_yomi, given_"):
        google.plan_fields(ASKED, {})
    mapped = {"family_name_yomi": "customSchemas.HR.familyKana",
              "given_name_yomi": "customSchemas.HR.givenKana"}  # fmt: skip
    plan = google.plan_fields(ASKED, mapped)
    assert plan.projection() == {"projection": "custom", "customFieldMask": "HR"}
    kana = {"familyKana": "やまだ", "givenKana": "たろう"}
    resource = {"id": "g-1", "primaryEmail": "taro@example.com", "customSchemas": {"HR": kana}}
    user = google.to_user(resource, plan, "Google")
    assert isinstance(user, DirectoryUser)
    assert (user.family_name_yomi, user.given_name_yomi) == ("やまだ", "たろう")


def test_salesforce_reads_readings_from_mapped_fields() -> None:
    keys = {"kind": "salesforce", "consumer_key": "k", "username": "u", "private_key_env": "K"}
    with pytest.raises(StopRun, match="no default field for \\['family_name_yomi', 'given_"):
        UserQuery.for_request(SalesforceSourceSettings.model_validate(keys), ASKED)
    mapped = {"family_name_yomi": "LastNameKana__c", "given_name_yomi": "FirstNameKana__c"}
    settings = SalesforceSourceSettings.model_validate({**keys, "attributes": mapped})
    query = UserQuery.for_request(settings, ASKED)
    assert "FirstNameKana__c, " in query.soql("", None)
    record = {"Id": "005A", "IsActive": True, "Username": "taro@acme", "Email": "t@example.com",
              "LastNameKana__c": "ﾔﾏﾀﾞ", "FirstNameKana__c": "ﾀﾛｳ"}  # fmt: skip
    user = query.to_user(record)
    assert isinstance(user, DirectoryUser)
    assert (user.family_name_yomi, user.given_name_yomi) == ("ﾔﾏﾀﾞ", "ﾀﾛｳ")
