"""Configuration keys of each kind of directory source (SPEC §8).

A lookup (SPEC §2) takes the same keys plus `match_on` (and optionally `lookup_field`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # directory attribute (sync.model.DIRECTORY_ATTRIBUTES) -> the system's field or column
    attributes: dict[str, str] = Field(default_factory=dict)
    # only for lookups: "email", "employee_code", or a field of the main source holding our id
    match_on: str | None = None
    # only for lookups matching on a field: the lookup source's field it equals (default: its id)
    lookup_field: str | None = None

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        from sync.model import DIRECTORY_ATTRIBUTES

        unknown = sorted(set(value) - set(DIRECTORY_ATTRIBUTES))
        if unknown:
            raise ValueError(
                f"unknown directory attribute(s) {unknown}; known: {list(DIRECTORY_ATTRIBUTES)}"
            )
        return value


class CsvSourceSettings(SourceSettings):
    kind: Literal["csv"]
    path: Path
    encoding: str = "utf-8-sig"
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value


class LdapSourceSettings(SourceSettings):
    kind: Literal["ldap"]
    url: str = Field(pattern=r"^ldaps?://")
    start_tls: bool = False
    ca_file: Path | None = None
    bind_dn: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    base_dn: str
    user_filter: str | None = None  # None: the dialect's default
    inactive_filter: str | None = None  # OpenLDAP: entries matching it are inactive
    dialect: Literal["openldap", "active_directory"] = "openldap"
    page_size: int = Field(default=1000, ge=1, le=100_000)
    full_sync_interval_hours: float = Field(default=24, gt=0)
    timeout_seconds: float = Field(default=30, gt=0)
    # how long connecting, binding and the first page are retried (exponential back-off)
    retry_seconds: float = Field(default=120, ge=0)
    # referral URL prefixes known to hold no people (AD: ldap://DomainDnsZones.corp.example.com/);
    # any other referral makes the read incomplete
    ignore_referrals: tuple[str, ...] = ()

    @field_validator("attributes")
    @classmethod
    def _no_active_attribute(cls, value: dict[str, str]) -> dict[str, str]:
        if "active" in value:
            raise ValueError(
                "active: an LDAP source reads it from the dialect's disabled flag "
                "(pwdAccountLockedTime, userAccountControl); use inactive_filter instead"
            )
        return value

    @model_validator(mode="after")
    def _one_tls(self) -> LdapSourceSettings:
        if self.start_tls and self.url.lower().startswith("ldaps://"):
            raise ValueError("start_tls = true needs an ldap:// url (ldaps:// is TLS already)")
        return self


class GoogleWorkspaceSourceSettings(SourceSettings):
    kind: Literal["google_workspace"]
    credentials_file: Path | None = None
    credentials_env: str | None = None
    subject: str | None = None
    customer: str | None = None  # None with no domain: "my_customer"
    domain: str | None = None
    query: str | None = None
    api_endpoint: str | None = None
    timeout_seconds: float = Field(default=60, gt=0)


class SalesforceSourceSettings(SourceSettings):
    kind: Literal["salesforce"]
    login_url: str = Field(default="https://login.salesforce.com", pattern=r"^https?://")
    consumer_key: str | None = None
    private_key_file: Path | None = None
    private_key_env: str | None = None
    username: str | None = None
    password_env: str | None = None
    security_token_env: str | None = None
    where: str = "UserType = 'Standard'"
    api_version: str = Field(default="59.0", pattern=r"^\d+\.\d$")
    full_sync_interval_hours: float = Field(default=24, gt=0)
    timeout_seconds: float = Field(default=60, gt=0)


AnySourceSettings = Annotated[
    CsvSourceSettings
    | LdapSourceSettings
    | GoogleWorkspaceSourceSettings
    | SalesforceSourceSettings,
    Field(discriminator="kind"),
]
