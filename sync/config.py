"""The configuration file (SPEC §8): TOML, environment overrides, every problem reported at once."""

from __future__ import annotations

import os
import re
import string
import tomllib
import zoneinfo
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sync.compose.rules import NameRule
from sync.errors import ConfigError
from sync.guards import Bound, GuardKind, Limits
from sync.model import TEXT_ATTRIBUTES
from sync.schedule import schedule_trigger
from sync.sources.settings import AnySourceSettings

ENV_PREFIX = "CLOMO_SYNC_"
DEFAULT_CONFIG = Path("config/clomo-sync.toml")
DEFAULT_NAME_PATTERN = r"[A-Za-z0-9._@+\-]{1,128}"
SOURCE_KINDS = ("csv", "ldap", "google_workspace", "salesforce")
# Fields a custom template may use: every text attribute, plus the derived local part.
TEMPLATE_FIELDS = (*TEXT_ATTRIBUTES, "email_local_part")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///var/clomo-sync.db"


class MailSettings(_Strict):
    delivery: Literal["file", "smtp"] = "file"
    outbox_dir: Path = Path("var/outbox")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    from_address: str = "CLOMO <noreply@example.com>"
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_seconds: float = Field(default=60, gt=0)
    batch_size: int = Field(default=500, ge=1)

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
    misfire_grace_seconds: float = Field(default=300, gt=0)
    max_workers: int = Field(default=4, ge=1)  # tenants run at once by one scheduler
    delivery_interval_seconds: float = Field(default=60, gt=0)
    stop_timeout_seconds: float = Field(default=30, ge=0)  # wait for runs on SIGTERM
    heartbeat_seconds: float = Field(default=15, gt=0)


class WebSettings(_Strict):
    """`clomo-sync web`, the self-service password pages (docs/web.md)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # signs the forms' CSRF tokens; unset: a random secret per process (forms die on restart)
    secret_env: str | None = None
    secret_file: Path | None = None
    address_limit: str = "60/minute"  # page requests per client address
    account_limit: str = "5/hour"  # reset emails per account
    # proxies whose X-Forwarded-For / -Proto give the client's address and scheme
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    deliver_wait_seconds: float = Field(default=5, ge=0)
    # the administrators' console (SPEC §12): sessions end after this long unused, and at most
    # this long after signing in; sign-in attempts per client address; failed sign-ins per
    # account before it is locked out of the console for the rest of that window
    session_idle_minutes: float = Field(default=30, gt=0)
    session_max_hours: float = Field(default=12, gt=0)
    signin_limit: str = "10/minute"
    signin_lockout: str = "5/15 minutes"

    @field_validator("address_limit", "account_limit", "signin_limit", "signin_lockout")
    @classmethod
    def _limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate like '5/hour' or '60 per minute'") from None
        return value


class TenantSettings(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
    schedule: str = "0 * * * *"
    timezone: str = "UTC"
    account_name_source: Literal[
        "custom",
        "email",
        "email_local_part",
        "employee_code",
        "google_workspace_email",
        "salesforce_account",
    ] = "email"
    custom_template: str | None = None
    auth_type: Literal["password", "google", "saml"] = "password"
    collision: Literal["suffix", "reject"] = "suffix"
    # SPEC §10's guards: a count bound (0: none) and a percent of the active accounts (0: none)
    max_disable: int = Field(default=500, ge=0)
    max_disable_percent: float = Field(default=20, ge=0, le=100)
    max_rename: int = Field(default=100, ge=0)
    max_rename_percent: float = Field(default=10, ge=0, le=100)
    max_clear: int = Field(default=50, ge=0)
    max_clear_percent: float = Field(default=5, ge=0, le=100)
    alert_emails: tuple[str, ...] = ()
    audit_retention_days: int = Field(default=400, ge=1)
    reserved_names: tuple[str, ...] = ()
    name_pattern: str = DEFAULT_NAME_PATTERN
    lowercase_email_names: bool = True
    name_quarantine_days: int = Field(default=30, ge=0)
    reset_url: str | None = None
    token_ttl_hours: float = Field(default=72, gt=0)
    templates_dir: Path | None = None
    from_address: str | None = None  # this tenant's sender; mail.from_address when unset
    source: AnySourceSettings
    lookups: tuple[AnySourceSettings, ...] = ()

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        schedule_trigger(value, "UTC")  # raises ValueError naming what is wrong
        return value

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
            template_fields(value)
        return value

    @field_validator("alert_emails")
    @classmethod
    def _alert_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            checked_recipient(address)
        return value

    def limits(self) -> Limits:
        return Limits(
            {
                GuardKind.DISABLE: Bound("max_disable", self.max_disable, self.max_disable_percent),
                GuardKind.RENAME: Bound("max_rename", self.max_rename, self.max_rename_percent),
                GuardKind.CLEAR: Bound("max_clear", self.max_clear, self.max_clear_percent),
            }
        )

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
    tenants: tuple[TenantSettings, ...] = ()
    # where the file was read from, for messages; not a key of the file
    path: Path = Field(default=DEFAULT_CONFIG, exclude=True)

    @model_validator(mode="after")
    def _unique_tenants(self) -> Settings:
        ids = [tenant.id.lower() for tenant in self.tenants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"tenant ids must be unique; repeated: {duplicates}")
        return self

    def tenant(self, tenant_id: str) -> TenantSettings:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        known = ", ".join(t.id for t in self.tenants) or "none"
        raise ConfigError([f"{self.path}: no tenant {tenant_id!r} (tenants: {known})"])


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


def template_fields(template: str) -> tuple[str, ...]:
    """The attribute names a custom template uses; ValueError for anything but plain `{name}`."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"custom_template {template!r}: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion or name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"custom_template {template!r}: {{{name}}} is not one of "
                + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
            )
        names.append(name)
    if not names:
        raise ValueError(f"custom_template {template!r} uses no attribute")
    return tuple(names)


def config_path(explicit: str | Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    if explicit:
        return Path(explicit)
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    return DEFAULT_CONFIG


def load_settings(path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Reads, overrides and validates; raises ConfigError listing every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: configuration file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    problems = apply_env_overrides(data, environ)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += [
            f"{path}: {_key(error['loc'], data)}: {error['msg']}" for error in exc.errors()
        ]
    if problems:
        raise ConfigError(problems)
    return settings.model_copy(update={"path": path})


def _key(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """A validation error's location as the key an administrator writes, tenants named by id."""
    parts: list[str] = []
    node: Any = data
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            label = item.get("id") if isinstance(item, dict) else None
            parts[-1] += f"[{label}]" if label else f"[{step}]"
            node = item
        elif step in SOURCE_KINDS and parts and _is_source_key(parts[-1]):
            continue  # pydantic names the union branch; it is not a key of the file
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _is_source_key(part: str) -> bool:
    return part == "source" or part.startswith("lookups[")


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """`CLOMO_SYNC_MAIL__SMTP_PORT=2525` sets mail.smtp_port; tenants are addressed by id
    (`CLOMO_SYNC_TENANTS__ACME__SOURCE__URL`) or index. Values are read as TOML when they parse
    (numbers, booleans, arrays), else as plain strings."""
    problems: list[str] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        steps = name[len(ENV_PREFIX) :].lower().split("__")
        try:
            _set_path(data, steps, _env_value(environ[name]))
        except KeyError as exc:
            problems.append(f"environment {name}: {exc.args[0]}")
    return problems


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_path(node: Any, steps: list[str], value: Any) -> None:
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(node, list):
            node = _list_item(node, step)
            continue
        if last:
            node[step] = value
            return
        node = node.setdefault(step, {})


def _list_item(items: list[Any], step: str) -> Any:
    for item in items:
        if isinstance(item, dict) and str(item.get("id", "")).lower() == step:
            return item
    if step.isdigit() and int(step) < len(items):
        return items[int(step)]
    raise KeyError(f"no tenant {step!r} to override")
