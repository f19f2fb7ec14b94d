"""The configuration file (SPEC §8): TOML, environment overrides, every problem reported at once."""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sync.compose.rules import NameRule
from sync.compose.template import FILTERS as TEMPLATE_FILTERS
from sync.compose.template import TEMPLATE_FIELDS, parse_template
from sync.config.audit import AuditSettings
from sync.config.env import DEFAULT_CONFIG, ENV_PREFIX, config_path
from sync.config.paths import database_url_problem
from sync.errors import ConfigError, UsageError
from sync.planning.guards import Bound, GuardKind, Limits
from sync.planning.schedule import schedule_trigger
from sync.sources.settings import AnySourceSettings

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_PREFIX",
    "TEMPLATE_FIELDS",
    "TEMPLATE_FILTERS",
    "check_settings",
    "config_path",
    "load_settings",
]
DEFAULT_NAME_PATTERN = r"[A-Za-z0-9._@+\-]{1,128}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = Field(
        default="sqlite:///var/clomo-sync.db",
        description="the store: sqlite:///FILE (relative to this file's folder), "
        "sqlite:////ABSOLUTE/FILE or postgresql+psycopg://user@host/db",
    )

    @field_validator("url")
    @classmethod
    def _usable(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class MailSettings(_Strict):
    delivery: Literal["file", "smtp"] = Field(
        default="file", description='"file" writes .eml files into outbox_dir; "smtp" sends'
    )
    outbox_dir: Path = Field(
        default=Path("var/outbox"), description='where delivery = "file" writes messages'
    )
    smtp_host: str = Field(default="127.0.0.1", description="the SMTP server")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="the SMTP server's port")
    security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="plain SMTP, STARTTLS, or TLS from the first byte (465)"
    )
    username: str | None = Field(
        default=None, description="SMTP login (with password_env or password_file)"
    )
    password_env: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=30, gt=0, description="SMTP connection timeout")
    from_address: str = Field(
        default="CLOMO <noreply@example.com>", description="the From header of every message"
    )
    max_attempts: int = Field(
        default=8, ge=1, le=100, description="deliveries tried before a message is failed"
    )
    retry_base_seconds: float = Field(
        default=60, gt=0, description="the first back-off step after a failed delivery"
    )
    batch_size: int = Field(default=500, ge=1, description="messages sent per connection")

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        return checked_sender(value)

    @model_validator(mode="after")
    def _login(self) -> MailSettings:
        has_password = bool(self.password_env or self.password_file)
        if bool(self.username) != has_password:
            raise ValueError("an SMTP login needs both username and password_env/password_file")
        return self


class SchedulerSettings(_Strict):
    """The `scheduler` command's timing (docs/operations.md)."""

    jitter_seconds: float = Field(default=10, ge=0)  # random delay after each tick
    misfire_grace_seconds: float = Field(
        default=300, gt=0, description="a tick missed by up to this long still runs"
    )
    max_workers: int = Field(default=4, ge=1)  # tenants run at once by one scheduler
    delivery_interval_seconds: float = Field(
        default=60, gt=0, description="how often queued email is delivered"
    )
    stop_timeout_seconds: float = Field(default=30, ge=0)  # wait for runs on SIGTERM
    heartbeat_seconds: float = Field(
        default=15, gt=0, description="how often the scheduler's main thread wakes for signals"
    )


def crontab(value: str) -> str:
    """A cron expression in the one dialect every setting takes (sync.planning.schedule)."""
    schedule_trigger(value, "UTC")  # raises ValueError naming what is wrong
    return value


def recipients(value: tuple[str, ...]) -> tuple[str, ...]:
    """Addresses to send alerts to, each one checked."""
    for address in value:
        checked_recipient(address)
    return value


class FleetSettings(_Strict):
    """`clomo-sync worker` on PostgreSQL (docs/operations.md)."""

    # how often the dispatcher queues due tenants: a crontab expression as tenants' `schedule`
    # (five fields; a sixth for seconds goes FIRST, sync.planning.schedule)
    dispatch_cron: str = "* * * * *"
    stop_timeout_seconds: float = Field(default=60, ge=0)  # SIGTERM: wait for runs, then return
    # how often a worker records that it is alive (Procrastinate's heartbeat)
    heartbeat_seconds: float = Field(default=10, gt=0)
    # a worker silent this long is dead: its runs are retried by another worker
    stalled_after_seconds: float = Field(default=60, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # serve /metrics here
    metrics_host: str = "0.0.0.0"  # the address /metrics listens on
    run_timeout_seconds: float = Field(
        default=3600,
        ge=60,
        le=86400,
        description="how long a run may take (a minute to a day): a run past it is abandoned "
        "(rolled back, recorded failed, queued again); also the slack before a tenant whose "
        "runs stopped counts as overdue",
    )
    operator_emails: tuple[str, ...] = Field(
        default=(), description="addresses told when any tenant becomes overdue, and recovers"
    )

    _crontab = field_validator("dispatch_cron")(crontab)
    _operators = field_validator("operator_emails")(recipients)


class WebSettings(_Strict):
    """`clomo-sync web`, the self-service password pages (docs/web.md)."""

    host: str = Field(default="127.0.0.1", description="the address `web` listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="the port `web` listens on")
    # signs the forms' CSRF tokens; unset: a random secret per process (forms die on restart)
    secret_env: str | None = None
    secret_file: Path | None = Field(default=None, description="a file holding that secret")
    address_limit: str = "60/minute"  # page requests per client address
    account_limit: str = "5/hour"  # reset emails per account
    # reverse proxies whose X-Forwarded-For / -Proto give the client's address and scheme; none
    # by default (SPEC §15): a local client rotating X-Forwarded-For escaped the address limit
    trusted_proxies: tuple[str, ...] = ()
    deliver_wait_seconds: float = Field(
        default=5, ge=0, description="how long a page waits for its email to be sent"
    )
    # the administrators' console: sessions end after this long unused, and at most this long
    # after signing in; sign-in attempts per client address; failed sign-ins per account name
    # before it is locked out of the console for the rest of that window
    session_idle_minutes: float = Field(
        default=30, gt=0, description="a console session unused this long ends"
    )
    session_max_hours: float = Field(
        default=12, gt=0, description="a console session ends this long after signing in"
    )
    signin_limit: str = Field(
        default="10/minute", description="console sign-in attempts per client address"
    )
    signin_lockout: str = Field(
        default="5/15 minutes",
        description="failed console sign-ins (passwords, second-factor codes) per account name "
        "before it is locked out",
    )
    webhook_settle_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="an HR webhook's run starts once no other came for this long (one run a burst)",
    )
    public_url: str | None = Field(
        default=None,
        description="the address people reach `web` at, like https://sync.example.com; "
        "the console's single sign-on callback is built on it",
    )

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: a query or fragment has no place in public_url")
        return value.rstrip("/")

    @field_validator("address_limit", "account_limit", "signin_limit", "signin_lockout")
    @classmethod
    def _limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate like '5/hour' or '60 per minute'") from None
        return value


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a name or address that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TenantConsoleOidcSettings(_Strict):
    """Single sign-on to the tenant's console through an OpenID provider (SPEC §19,
    docs/web.md)."""

    issuer: str = Field(
        description="the provider's issuer URL (https; http only on a loopback address)"
    )
    client_id: str = Field(min_length=1, description="the client registered at the provider")
    client_secret_env: str | None = Field(
        default=None, description="the variable holding the client's secret"
    )
    client_secret_file: Path | None = Field(
        default=None, description="… or a file holding it (exactly one of the two)"
    )
    username_claim: str = Field(
        default="preferred_username",
        min_length=1,
        description="the claim naming the CLOMO account (ID token, else userinfo)",
    )
    ca_file: Path | None = Field(
        default=None, description="CA certificates the provider's TLS is checked against"
    )
    provider_name: str | None = Field(
        default=None,
        max_length=64,
        description='"sign in with …" on the login page; the issuer\'s host when unset',
    )

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an https:// URL")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: an issuer has no query or fragment")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError(
                f"{value!r}: an http:// issuer is accepted only on a loopback address "
                "(127.0.0.1, ::1, localhost); use https://"
            )
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> TenantConsoleOidcSettings:
        if bool(self.client_secret_env) == bool(self.client_secret_file):
            raise ValueError("give exactly one of client_secret_env and client_secret_file")
        return self

    def label(self) -> str:
        return self.provider_name or urlsplit(self.issuer).hostname or self.issuer


ConsolePrivilege = Literal["system_admin", "department_admin", "operator", "custom_admin"]


class TenantConsoleSettings(_Strict):
    """`[tenants.console]`: the tenant's administrators' console (docs/web.md)."""

    oidc: TenantConsoleOidcSettings | None = None
    require_mfa_for: tuple[ConsolePrivilege, ...] = Field(
        default=("system_admin",),
        description="privileges whose accounts must enrol and use a second factor in the console",
    )


class ScopeSettings(_Strict):
    groups: tuple[str, ...] = Field(
        min_length=1, description="only members of these groups (nested included) get accounts"
    )


class RoleRule(_Strict):
    group: str = Field(min_length=1, description="members of this group (nested included) …")
    role: Literal["none", "system_admin", "department_admin", "operator", "custom_admin"] = Field(
        description="… get this administrator privilege (the first matching rule wins)"
    )
    permission_scheme: str | None = Field(default=None, description="for custom_admin")

    @model_validator(mode="after")
    def _scheme(self) -> RoleRule:
        if (self.role == "custom_admin") != (self.permission_scheme is not None):
            raise ValueError('permission_scheme goes with role = "custom_admin", and only with it')
        return self


# the composition sources and sign-in types (SPEC §2), also the console's choices
NameSource = Literal[
    "custom",
    "email",
    "email_local_part",
    "employee_code",
    "google_workspace_email",
    "salesforce_account",
]
AuthType = Literal["password", "google", "saml"]


class TenantSettings(_Strict):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$", description="the tenant's id, unique"
    )
    schedule: str = Field(default="0 * * * *", description="crontab line of the scheduler's runs")
    timezone: str = Field(
        default="UTC", description="the time zone of schedule and of people's start and end dates"
    )
    invite_days_before_start: int = Field(
        default=0,
        ge=0,
        le=366,
        description="a joiner is invited this many days before the start date, at 09:00",
    )
    account_name_source: NameSource = Field(
        default="email", description="what the account name is built from"
    )
    custom_template: str | None = Field(
        default=None,
        description='for "custom": a template like "{family_name}.{given_name}" or, with '
        'filters, "{family_name_yomi|romaji}.{given_name_yomi|romaji}" (docs/names.md)',
    )
    auth_type: AuthType = Field(
        default="password", description="password accounts get a reset email; federated none"
    )
    collision: Literal["suffix", "reject"] = Field(
        default="suffix", description="a later claimant of a name gets name-2, or no account"
    )
    max_disable: int = Field(
        default=500, ge=0, description="a run disabling more accounts is blocked (0: no bound)"
    )
    max_disable_percent: float = Field(
        default=20, ge=0, le=100, description="… or more than this % of the active accounts"
    )
    max_rename: int = Field(
        default=100, ge=0, description="a run renaming more accounts is blocked (0: no bound)"
    )
    max_rename_percent: float = Field(
        default=10, ge=0, le=100, description="… or more than this % of the active accounts"
    )
    max_clear: int = Field(
        default=50, ge=0, description="a run emptying more stored fields is blocked (0: no bound)"
    )
    max_clear_percent: float = Field(
        default=5, ge=0, le=100, description="… or more than this % of the active accounts"
    )
    alert_emails: tuple[str, ...] = Field(
        default=(), description="addresses told when runs start failing or blocking, and recover"
    )
    audit_retention_days: int = Field(
        default=400, ge=1, description="account events older than this are deleted"
    )
    change_set_ttl_hours: float = Field(
        default=72, gt=0, description="a held change set not decided within this expires"
    )
    reserved_names: tuple[str, ...] = Field(default=(), description="names never given out")
    name_pattern: str = Field(
        default=DEFAULT_NAME_PATTERN, description="a regular expression a whole name must match"
    )
    lowercase_email_names: bool = Field(default=True, description="email-based names in lower case")
    name_quarantine_days: int = Field(
        default=30, ge=0, description="a name released by a rename is not reused for this long"
    )
    reset_url: str | None = Field(
        default=None, description="the password page's URL with {token}; needed for password"
    )
    token_ttl_hours: float = Field(default=72, gt=0, description="a reset link's lifetime")
    templates_dir: Path | None = Field(
        default=None, description="the tenant's email templates, overriding the defaults by name"
    )
    from_address: str | None = None  # this tenant's sender; mail.from_address when unset
    source: AnySourceSettings
    lookups: tuple[AnySourceSettings, ...] = ()
    scope: ScopeSettings | None = None
    roles: tuple[RoleRule, ...] = ()
    console: TenantConsoleSettings = TenantConsoleSettings()

    _crontab = field_validator("schedule")(crontab)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else checked_sender(value)

    @field_validator("name_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("custom_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            parse_template(value)  # TemplateError (a ValueError) naming the template
        return value

    _alert_addresses = field_validator("alert_emails")(recipients)

    def limits(self) -> Limits:
        return Limits(
            {
                GuardKind.DISABLE: Bound("max_disable", self.max_disable, self.max_disable_percent),
                GuardKind.RENAME: Bound("max_rename", self.max_rename, self.max_rename_percent),
                GuardKind.CLEAR: Bound("max_clear", self.max_clear, self.max_clear_percent),
            }
        )

    def groups(self) -> frozenset[str]:
        """Every group the scope and the roles name: what the source must read memberships of."""
        scoped = self.scope.groups if self.scope else ()
        return frozenset((*scoped, *(rule.group for rule in self.roles)))

    def name_rule(self) -> NameRule:
        return NameRule.parse(
            self.account_name_source,
            self.custom_template,
            self.name_pattern,
            self.lowercase_email_names,
        )

    @model_validator(mode="after")
    def _consistent(self) -> TenantSettings:
        if self.account_name_source == "custom" and not self.custom_template:
            raise ValueError('account_name_source = "custom" needs custom_template')
        needs_url = self.auth_type == "password"
        if needs_url and (not self.reset_url or "{token}" not in self.reset_url):
            raise ValueError('auth_type = "password" needs a reset_url containing {token}')
        if self.source.match_on is not None:
            raise ValueError("source: match_on belongs to [[tenants.lookups]] only")
        for index, lookup in enumerate(self.lookups):
            if lookup.match_on is None:
                raise ValueError(
                    f'lookups[{index}]: match_on is required ("email", '
                    '"employee_code" or a field of the main source)'
                )
        return self


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    mail: MailSettings = MailSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    web: WebSettings = WebSettings()
    fleet: FleetSettings = FleetSettings()
    audit: AuditSettings = AuditSettings()
    tenants: tuple[TenantSettings, ...] = ()
    # where the file was read from, for messages; not a key of the file
    path: Path = Field(default=DEFAULT_CONFIG, exclude=True)

    @model_validator(mode="after")
    def _unique_tenants(self) -> Settings:
        ids = [tenant.id.lower() for tenant in self.tenants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"tenant ids must be unique; repeated: {duplicates}")
        single_sign_on = [t.id for t in self.tenants if t.console.oidc is not None]
        if single_sign_on and self.web.public_url is None:
            raise ValueError(
                f"tenants {single_sign_on} sign administrators in with OpenID Connect: "
                "[web] public_url is needed for the callback address"
            )
        return self

    def tenant(self, tenant_id: str) -> TenantSettings:
        """The configured tenant; an unknown id is a usage error naming the configured ones."""
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        known = ", ".join(t.id for t in self.tenants) or "none"
        raise UsageError(f"unknown tenant {tenant_id!r}; configured: {known}")


def checked_sender(value: str) -> str:
    """A sender is `Name <address>` or a bare address, on one line: it becomes the From header."""
    _name, address = parseaddr(value)
    if any(ch in value for ch in "\r\n\0") or "@" not in address or " " in address:
        raise ValueError(f"{value!r} is not a sender address like 'CLOMO <noreply@example.com>'")
    return value


def checked_recipient(value: str) -> str:
    """An alert recipient: a plain address on one line."""
    _name, address = parseaddr(value)
    if address != value.strip() or "@" not in address or any(ch in value for ch in "\r\n\0 "):
        raise ValueError(f"{value!r} is not a plain email address like 'it-admins@example.com'")
    return value


def load_settings(path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Reads, overrides and validates; raises ConfigError listing every problem."""
    from sync.config.load import read_settings

    settings, problems = read_settings(path, environ)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def check_settings(
    path: Path, environ: Mapping[str, str] = os.environ
) -> tuple[Settings | None, list[str]]:
    """`config check`: every problem of the file and the environment at once, including each
    secret variable or file (and CA file) that cannot be read; never a value."""
    from sync.config.load import read_settings

    return read_settings(path, environ, check_secrets=True)
