"""`[audit]`: the audit sent outside as it happens (SPEC §19, docs/audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Timing(_Strict):
    batch_size: int = Field(default=500, ge=1, le=10000, description="events read and sent at once")
    poll_seconds: float = Field(
        default=1, gt=0, le=60, description="how often the store is asked for new events"
    )
    lease_seconds: float = Field(
        default=30, ge=5, le=600, description="how long a silent holder keeps the cursor"
    )
    timeout_seconds: float = Field(default=10, gt=0, description="connect and send timeout")
    retry_longest_seconds: float = Field(
        default=60, gt=0, description="the longest wait between attempts while the receiver fails"
    )


class SyslogStream(_Timing):
    """RFC 5424 over TCP, octet-counted frames (RFC 6587), optionally in TLS."""

    kind: Literal["syslog"] = Field(description="the receiver's kind; picks the keys below")
    address: str = Field(description="the receiver as host:port")
    tls: bool = Field(default=False, description="TLS to the receiver")
    ca_file: Path | None = Field(
        default=None, description="CA certificates for TLS (default: the system's)"
    )

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host_port(value)
        return value


class HttpsStream(_Timing):
    """JSON batches POSTed to a URL, signed with an HMAC-SHA256 key."""

    kind: Literal["https"] = Field(description="the receiver's kind; picks the keys below")
    url: str = Field(description="where the batches are POSTed (https://; http:// on loopback)")
    secret_env: str = Field(description="the variable holding the HMAC key")
    ca_file: Path | None = Field(default=None, description="CA certificates for the URL")

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError(f"{value!r} is not an https:// URL (http:// only on a loopback host)")
        return value


AnyStream = Annotated[SyslogStream | HttpsStream, Field(discriminator="kind")]


class AuditSettings(_Strict):
    stream: AnyStream | None = Field(
        default=None, description="send each event out (docs/audit.md)"
    )


def host_port(value: str) -> tuple[str, int]:
    """`host:port` (`[::1]:514` for IPv6) split; ValueError naming the value otherwise."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not an address like 'siem.example.com:6514'")
    return host, int(port)
