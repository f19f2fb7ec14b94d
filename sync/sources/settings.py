"""Configuration keys of each kind of directory source (SPEC §8).

A lookup (SPEC §2) takes the same keys plus `match_on` (and optionally `lookup_field`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A Salesforce field's API name (custom ones end in __c): safe to paste into SOQL.
SALESFORCE_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # the registry's key (sync.sources.SOURCES); each kind narrows it to its own literal
    kind: str
    # Hours between full reads of a source with delta reads (the runner reads everything when
    # this much time has passed since the last full read); None: no delta reads, every read full.
    full_sync_interval_hours: float | None = None
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


def no_groups_attribute(attributes: dict[str, str], kind: str) -> None:
    """Membership is read from the groups themselves in these directories (SPEC §13), never from
    a field of the user: a mapping would be ignored, so it is refused."""
    if "groups" in attributes:
        raise ValueError(
            f"attributes.groups cannot be mapped for {kind}: membership is read from the groups "
            "named in [tenants.scope] and [[tenants.roles]]"
        )


class CsvSourceSettings(SourceSettings):
    kind: Literal["csv"]
    full_sync_interval_hours: None = None  # every read is full
    path: Path
    encoding: str = "utf-8-sig"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    # SPEC §10: a read with more than this percent of its rows malformed fails the run
    max_bad_rows_percent: float = Field(default=10, ge=0, le=100)

    @field_validator("attributes")
    @classmethod
    def _source_id_column(cls, value: dict[str, str]) -> dict[str, str]:
        # an attribute mapped to "" is one the export lacks; every row needs an id
        if value.get("source_id") == "":
            raise ValueError("source_id must name a column: every row needs its id")
        return value

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
    # the whole time connecting, binding and the first page are tried, retries included
    # (exponential back-off); a down server fails within it plus one attempt (docs/ldap.md)
    retry_seconds: float = Field(default=30, ge=0)
    # referral URL prefixes known to hold no people; any other referral makes the read incomplete
    # (the active_directory dialect ignores the domain's own DNS-zone and configuration ones)
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
    full_sync_interval_hours: None = None  # every read is full
    credentials_file: Path | None = None
    credentials_env: str | None = None  # the variable holds the key's JSON text itself
    subject: str | None = None
    customer: str | None = None  # None with no domain: "my_customer"
    domain: str | None = None
    query: str | None = None
    api_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    timeout_seconds: float = Field(default=60, gt=0)
    # Back-off for rate limits and 5xx: the first wait, and the most time spent retrying one
    # request before the read is given up (tests set both tiny).
    retry_initial_seconds: float = Field(default=1, gt=0)
    retry_max_seconds: float = Field(default=300, gt=0)

    @model_validator(mode="after")
    def _google_keys(self) -> GoogleWorkspaceSourceSettings:
        from sync.sources.google_workspace.fields import check_field_path

        if (self.credentials_file is None) == (self.credentials_env is None):
            raise ValueError(
                "give exactly one of credentials_file or credentials_env "
                "(a service-account JSON key)"
            )
        if self.customer and self.domain:
            raise ValueError("give customer or domain, not both")
        if "active" in self.attributes:
            raise ValueError(
                "attributes.active cannot be mapped for google_workspace: "
                "a user is inactive when suspended or archived"
            )
        no_groups_attribute(self.attributes, "google_workspace")
        for attribute, path in self.attributes.items():
            check_field_path(path, f"attributes.{attribute}")
        return self


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
    # A CA bundle to trust instead of the system's store / REQUESTS_CA_BUNDLE (a TLS proxy's CA).
    ca_file: Path | None = None
    # The JWT `aud` claim; None derives it from login_url (docs/salesforce.md).
    jwt_audience: str | None = None
    # Bound on the time spent retrying one request (5xx, dropped connections) before giving up.
    retry_max_seconds: float = Field(default=300, gt=0)

    @field_validator("attributes")
    @classmethod
    def _salesforce_fields(cls, value: dict[str, str]) -> dict[str, str]:
        # The values are pasted into SOQL: only plain field names, never an expression.
        bad = sorted(f for f in value.values() if not SALESFORCE_FIELD.fullmatch(f))
        if bad:
            raise ValueError(f"not Salesforce field names: {bad}")
        no_groups_attribute(value, "salesforce")
        return value

    @field_validator("lookup_field")
    @classmethod
    def _lookup_field_name(cls, value: str | None) -> str | None:
        if value is not None and not SALESFORCE_FIELD.fullmatch(value):
            raise ValueError(f"{value!r} is not a Salesforce field name")
        return value

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> SalesforceSourceSettings:
        if not self.username:
            raise ValueError("username is required")
        key_given = bool(self.private_key_file or self.private_key_env)
        if key_given and not self.consumer_key:
            raise ValueError("consumer_key is required with private_key_file / private_key_env")
        if self.consumer_key and not key_given:
            raise ValueError("consumer_key needs private_key_file or private_key_env (JWT bearer)")
        if not key_given and not self.password_env:
            raise ValueError(
                "give consumer_key + private_key_file / private_key_env (JWT bearer), "
                "or password_env (+ security_token_env)"
            )
        return self


class EntraIdSourceSettings(SourceSettings):
    """Microsoft Entra ID through Microsoft Graph (docs/entra_id.md)."""

    kind: Literal["entra_id"]
    tenant_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")  # a GUID or a verified domain
    client_id: str = Field(min_length=1)  # the app registration's application (client) id
    client_secret_env: str | None = None  # the variable holding the app's client secret
    client_secret_file: Path | None = None  # a file holding the client secret
    # a PEM holding the private key and its certificate (the one uploaded to the app registration)
    certificate_file: Path | None = None
    # where tokens come from (another cloud: https://login.microsoftonline.us, ...)
    authority: str = Field(default="https://login.microsoftonline.com", pattern=r"^https://")
    # Microsoft Graph (another cloud: https://graph.microsoft.us, ...)
    graph_endpoint: str = Field(default="https://graph.microsoft.com", pattern=r"^https://")
    filter: str | None = None  # an OData $filter on users
    full_sync_interval_hours: float = Field(default=24, gt=0)
    timeout_seconds: float = Field(default=60, gt=0)
    # Back-off for 429/503/504 and dropped connections: the first wait, and the most time spent
    # retrying one request before the run fails (nobody is disabled then).
    retry_initial_seconds: float = Field(default=1, gt=0)
    retry_max_seconds: float = Field(default=300, ge=0)

    @field_validator("attributes")
    @classmethod
    def _graph_properties(cls, value: dict[str, str]) -> dict[str, str]:
        from sync.sources.entra_id.fields import parse_properties

        for attribute, properties in value.items():
            parse_properties(properties, f"attributes.{attribute}")
        return value

    @field_validator("authority", "graph_endpoint")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_credential(self) -> EntraIdSourceSettings:
        given = [
            key
            for key in ("client_secret_env", "client_secret_file", "certificate_file")
            if getattr(self, key) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of client_secret_env, client_secret_file or certificate_file "
                f"(given: {', '.join(given) or 'none'})"
            )
        if "active" in self.attributes:
            raise ValueError(
                "attributes.active cannot be mapped for entra_id: a user is inactive when "
                "accountEnabled is false"
            )
        no_groups_attribute(self.attributes, "entra_id")
        return self


class SmartHrSourceSettings(SourceSettings):
    """SmartHR's crews (従業員) through its REST API (SPEC §16, docs/smarthr.md)."""

    kind: Literal["smarthr"]
    full_sync_interval_hours: None = None  # the crews API has no delta: every read is full
    subdomain: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="the tenant's SmartHR subdomain: the site is https://SUBDOMAIN.smarthr.jp",
    )
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?]+/?$",
        description="the SmartHR site without /api, instead of subdomain",
    )
    access_token_env: str | None = Field(
        default=None, description="the variable holding SmartHR's access token"
    )
    access_token_file: Path | None = Field(default=None, description="or a file holding it")
    # the token SmartHR's webhook sends in X-SmartHR-Token (POST /hooks/smarthr/{tenant})
    webhook_token_env: str | None = None
    # a crew on leave (emp_status "absent"): keeps an active account, or is disabled
    absent_policy: Literal["keep", "disable"] = "keep"
    timeout_seconds: float = Field(default=60, gt=0)
    # Back-off for 429 (never sooner than x-rate-limit-reset), 503 maintenance, 5xx and dropped
    # connections: the first wait, and the most time spent retrying one request
    retry_initial_seconds: float = Field(default=1, gt=0)
    retry_max_seconds: float = Field(default=300, ge=0)

    @model_validator(mode="after")
    def _smarthr_keys(self) -> SmartHrSourceSettings:
        if (self.subdomain is None) == (self.base_url is None):
            raise ValueError("give exactly one of subdomain or base_url")
        if (self.access_token_env is None) == (self.access_token_file is None):
            raise ValueError("give exactly one of access_token_env or access_token_file")
        for attribute in ("active", "groups"):
            if attribute in self.attributes:
                raise ValueError(
                    f"attributes.{attribute} cannot be mapped for smarthr: it comes from "
                    + ("emp_status and absent_policy" if attribute == "active" else "departments")
                )
        return self

    def site(self) -> str:
        """The SmartHR site the API lives under (without /api)."""
        return (self.base_url or f"https://{self.subdomain}.smarthr.jp").rstrip("/")

    def token_key(self) -> str:
        """The configuration key that holds the access token, as an error names it."""
        if self.access_token_env:
            return f"access_token_env ({self.access_token_env})"
        return f"access_token_file ({self.access_token_file})"


class ScimSourceSettings(SourceSettings):
    """Users an identity provider pushes over SCIM 2.0 (SPEC §17, docs/scim.md): the source
    reads the tenant's SCIM directory in the store; every read is full."""

    kind: Literal["scim"]
    full_sync_interval_hours: None = None
    # the run starts once no push has come for this long, so a burst is guarded as a whole
    scim_settle_seconds: float = Field(default=5, ge=0, le=3600)
    # requests a minute the tenant's token may make (its own limit, not the console's)
    scim_requests_per_minute: int = Field(default=6000, ge=1)

    @field_validator("attributes")
    @classmethod
    def _fixed_mapping(cls, value: dict[str, str]) -> dict[str, str]:
        if value:
            raise ValueError(
                "attributes cannot be mapped for scim: the mapping is SCIM's own (docs/scim.md)"
            )
        return value

    @model_validator(mode="after")
    def _not_a_lookup(self) -> ScimSourceSettings:
        # a lookup has match_on (and the main source must not): the pushed directory is the
        # tenant's own, read with its store, never another tenant's helper
        if self.match_on is not None:
            raise ValueError(
                'kind = "scim" can be the tenant\'s [tenants.source] only, not a lookup'
            )
        return self


AnySourceSettings = Annotated[
    CsvSourceSettings
    | LdapSourceSettings
    | GoogleWorkspaceSourceSettings
    | SalesforceSourceSettings
    | EntraIdSourceSettings
    | SmartHrSourceSettings
    | ScimSourceSettings,
    Field(discriminator="kind"),
]
