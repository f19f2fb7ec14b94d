"""Log lines as text or JSON lines, each carrying the tenant and run id, with secrets redacted.

The tenant and run id live in context variables set around a run (`log_context`); every thread
starts with an empty context, so a scheduler's concurrent runs never mix their labels. Redaction
happens on the finished line, after formatting, so no argument or traceback escapes it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from sync.config.secrets import read_secret
from sync.errors import StopRun

if TYPE_CHECKING:  # the command line imports this module before it needs pydantic
    from sync.config.settings import Settings

_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)
# scheme://user:password@host -> the password part
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+(?=@)")
# every `<prefix>_env` / `<prefix>_file` key of the settings names a secret
SECRET_PREFIXES = (
    "password",
    "credentials",
    "private_key",
    "security_token",
    "secret",  # [web]
    "client_secret",  # Entra ID
    "certificate",  # Entra ID: the PEM holds the private key
)
# shorter values would redact ordinary words; no real password or key is this short
MIN_SECRET_LENGTH = 4
REDACTED = "***"


@contextmanager
def log_context(tenant: str | None = None, run_id: str | None = None) -> Iterator[None]:
    """Labels every line logged inside the block (in this thread) with the tenant and run id."""
    tokens = []
    if tenant is not None:
        tokens.append((_tenant, _tenant.set(tenant)))
    if run_id is not None:
        tokens.append((_run_id, _run_id.set(run_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class Redactor:
    """Removes known secret values and URL passwords from text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


REDACT = Redactor()


def redact_settings(settings: Settings, redactor: Redactor = REDACT) -> None:
    """Learns every secret the configuration names (variables and files) so logs never show it."""
    sections: list[object] = [settings.mail, settings.web]
    for tenant in settings.tenants:
        sections += [tenant.source, *tenant.lookups]
    for section in sections:
        for prefix in SECRET_PREFIXES:
            env_name = getattr(section, f"{prefix}_env", None)
            file_path = getattr(section, f"{prefix}_file", None)
            try:
                redactor.add(read_secret(prefix, env_name, file_path))
            except StopRun:
                continue  # unreadable: nothing to redact; the run itself reports it
    url = settings.database.url
    if "://" in url and "@" in url:
        userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
        redactor.add(userinfo.partition(":")[2] or None)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (tests and tools swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class TextFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor = REDACT) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(labels)s%(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        labels = [f"{k}={v}" for k, v in (("tenant", _tenant.get()), ("run", _run_id.get())) if v]
        record.labels = f"[{' '.join(labels)}] " if labels else ""
        return self.redactor(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, tenant, run_id (and exc)."""

    def __init__(self, redactor: Redactor = REDACT) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
            "tenant": _tenant.get(),
            "run_id": _run_id.get(),
        }
        if record.exc_info:
            data["exc"] = self.redactor(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def configure_logging(log_format: str = "text", level: int = logging.WARNING) -> None:
    """Installs (or replaces) this program's handler on the root logger."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Stderr):
            root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
