"""The one connection of a read (a `Session`) and what its results mean, for either client:
python-ldap (OpenLDAP's libldap, sync.sources.ldap.libldap) where it is installed, ldap3 (pure
Python, sync.sources.ldap.ldap3_client) everywhere; `open_session` picks the endpoint's and
imports only that one. What a result code or a continuation reference means is decided here,
once, for both, and socket failures are said in the same words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, TransientError
from sync.sources.ldap.values import RawAttributes, RawEntry

PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696 simple paged results control
# RFC 4511 result codes, by what they mean for a read
INCOMPLETE_CODES = {3: "time limit exceeded", 4: "size limit exceeded", 11: "admin limit exceeded"}
REFERRAL = 10
NO_SUCH_OBJECT = 32
TRANSIENT_CODES = {51: "busy", 52: "unavailable"}
REFUSED_CODES = {
    7: "the authentication method is not supported",
    8: "stronger authentication is required (use ldaps:// or start_tls = true)",
    13: "confidentiality is required (use ldaps:// or start_tls = true)",
    48: "inappropriate authentication",
    49: "invalid credentials",
    50: "insufficient access rights",
    53: "the server is unwilling to perform it",
}
Client = Literal["libldap", "ldap3"]


# `ldap3` here makes every read use ldap3 even where python-ldap is installed (a way back, and
# how the benchmark measures both); not CLOMO_SYNC_…, which names configuration keys
CLIENT_ENV = "CLOMO_LDAP_CLIENT"


@cache
def libldap_installed() -> bool:
    """Whether python-ldap (the `ldap-c` extra) is installed; found without importing it, which
    costs a run on ldap3 about 10 MB."""
    return find_spec("ldap") is not None


def client_for(url: str, start_tls: bool) -> Client:
    """libldap where python-ldap is installed, except over TLS to `localhost`: libldap checks
    the certificate of a server it reaches as localhost against this machine's own host name
    (OpenLDAP's tls2.c), which ldap3 does not, so there ldap3 reads and both check alike."""
    if not libldap_installed() or os.environ.get(CLIENT_ENV, "").strip().lower() == "ldap3":
        return "ldap3"
    tls = start_tls or url.lower().startswith("ldaps:")
    return "ldap3" if tls and (urlsplit(url).hostname or "") == "localhost" else "libldap"


def read_path() -> str:
    """What `clomo-sync --version` says of the LDAP read."""
    if not libldap_installed():
        return "ldap3 (pure Python; install the ldap-c extra for libldap)"
    if client_for("ldap://", start_tls=False) == "ldap3":
        return f"ldap3 ({CLIENT_ENV}=ldap3; libldap is installed)"
    import ldap

    vendor = int(ldap.VENDOR_VERSION)  # 20513 is 2.5.13
    openldap = f"{vendor // 10000}.{vendor // 100 % 100}.{vendor % 100}"
    return f"libldap (python-ldap {ldap.__version__}, OpenLDAP {openldap})"


class Pages(Protocol):
    """One paged search: `next_page()` until `done`."""

    done: bool

    def next_page(self) -> list[RawEntry]: ...


class Session(Protocol):
    """A bound connection of either client."""

    def search(
        self, search_filter: str, attributes: list[str], *, base: str | None = None
    ) -> Pages: ...

    def base_entry(self, dn: str, attributes: list[str], where: str) -> RawAttributes | None:
        """The entry `dn` itself; None if the server says there is no such object (or shows
        none); raises what any other result code means."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a connection and its searches need of an LDAP source's settings, as plain values:
    the reader process (sync.sources.ldap.reader) then needs neither pydantic nor the
    configuration code, and its memory stays the interpreter's, ldap3's and a few pages'."""

    url: str
    bind_dn: str | None
    base_dn: str
    ca_file: str | None
    start_tls: bool
    timeout_seconds: float
    page_size: int
    retry_seconds: float
    ignore_referrals: tuple[str, ...]
    # which client reads: python-ldap (libldap) or ldap3 (sync.sources.ldap.libldap.client_for)
    client: Client = "ldap3"
    # ldap3 only: search entries straight from its BER decoding (sync.sources.ldap.lean)
    lean_entries: bool = True
    # the dialect's own partitions (lower-case first RDNs): references to them are no loss
    own_partitions: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        settings: Any,
        *,
        client: Client = "ldap3",
        lean_entries: bool = True,
        own_partitions: tuple[str, ...] = (),
    ) -> Endpoint:
        """From an `LdapSourceSettings` (duck-typed: importing it would import pydantic)."""
        return cls(
            url=settings.url,
            bind_dn=settings.bind_dn,
            base_dn=settings.base_dn,
            ca_file=str(settings.ca_file) if settings.ca_file else None,
            start_tls=settings.start_tls,
            timeout_seconds=settings.timeout_seconds,
            page_size=settings.page_size,
            retry_seconds=settings.retry_seconds,
            ignore_referrals=tuple(settings.ignore_referrals),
            client=client,
            lean_entries=lean_entries,
            own_partitions=own_partitions,
        )


CLOSED = "the server closed the connection"
# socket errors as an administrator would say them (errno texts vary by platform)
SOCKET_WORDS = (
    ("refused", "connection refused"),
    ("name or service not known", "the host name does not resolve"),
    ("temporary failure in name resolution", "the host name does not resolve (DNS failed)"),
    ("no route to host", "no route to the host"),
    ("network is unreachable", "the network is unreachable"),
    ("reset by peer", CLOSED),
    ("session terminated by server", CLOSED),
)


def socket_words(reason: str, timeout: float | None) -> str:
    lowered = reason.lower()
    if "timed out" in lowered and timeout is not None:
        return f"no connection within {timeout:g} s (timeout_seconds)"
    return next((words for needle, words in SOCKET_WORDS if needle in lowered), reason)


def ca_hint() -> str:
    return (
        " (is ca_file the CA that signed the server's certificate, and does the certificate "
        "name the host in url?)"
    )


def open_session(settings: Endpoint, password: str | None) -> Session:
    """A bound session of the endpoint's client; raises our errors."""
    check_ca_file(settings)
    # each client's module is imported only when it reads: importing ldap3 costs a run about
    # as much CPU as a delta read's searches
    if settings.client == "libldap":
        from sync.sources.ldap import libldap

        return libldap.LibldapSession(settings, password)
    from sync.sources.ldap import ldap3_client

    return ldap3_client.Ldap3Session(ldap3_client.open_connection(settings, password), settings)


def check_ca_file(settings: Endpoint) -> None:
    if settings.ca_file and not os.access(settings.ca_file, os.R_OK):
        raise StopRun(f"{settings.url}: ca_file {settings.ca_file} cannot be read")


def check_result(result: dict[str, Any] | None, where: str) -> None:
    """Raises the error a non-success result code means."""
    result = result or {}
    code = result.get("result", 0)
    if code == 0:
        return
    message = (result.get("message") or "").strip()
    detail = f"{result.get('description', code)} (code {code}){': ' + message if message else ''}"
    if code in INCOMPLETE_CODES:
        raise IncompleteRead(
            f"{where}: the server cut the read short: {detail}; nobody is disabled. Raise the "
            "server's limit for the bind DN (slapd `limits`, AD MaxPageSize/MaxResultSetSize)"
        )
    if code == REFERRAL:
        referrals = ", ".join(result.get("referrals") or [])
        raise IncompleteRead(f"{where}: the server refers the search elsewhere ({referrals})")
    if code in TRANSIENT_CODES:
        raise TransientError(f"{where}: {detail}")
    if code in REFUSED_CODES:
        raise SourceUnavailable(f"{where}: refused: {REFUSED_CODES[code]}: {detail}")
    if code == 32:
        raise StopRun(f"{where}: base_dn does not exist on the server: {detail}")
    if code == 34:
        raise StopRun(f"{where}: base_dn is not a valid DN: {detail}")
    if code == 87:
        raise StopRun(f"{where}: the server rejects the filter: {detail}")
    raise StopRun(f"{where}: {detail}")


def search_where(settings: Endpoint, search_filter: str, base: str) -> str:
    """How an error of a search names it."""
    return f"{settings.url} search {search_filter} under {base}"


def check_references(settings: Endpoint, where: str, uris: list[str]) -> None:
    """A continuation reference is part of the tree we cannot read: incomplete, unless the
    tenant lists it as holding no people, or it names one of the directory's own partitions
    that hold none (AD: DC=DomainDnsZones, DC=ForestDnsZones, CN=Configuration of this
    domain or its forest)."""
    ignored = tuple(prefix.lower() for prefix in settings.ignore_referrals)
    if uris and all(
        (ignored and uri.lower().startswith(ignored)) or _own_partition(settings, uri)
        for uri in uris
    ):
        return
    raise IncompleteRead(
        f"{where}: the server returned a referral to {', '.join(uris)}, which is not "
        "followed; nobody is disabled (set base_dn below it, or list it in ignore_referrals "
        "if it holds no people)"
    )


def _own_partition(settings: Endpoint, uri: str) -> bool:
    """Whether `uri` (ldap://host/DN) names one of the dialect's own partitions directly
    above the base's domain: `<partition RDN>,DC=…`, where those DC components end the
    base DN (the domain itself, or its forest root for a child domain)."""
    if not settings.own_partitions:
        return False
    rdns = _dn_parts(unquote(urlsplit(uri).path.lstrip("/")))
    if len(rdns) < 2 or rdns[0] not in settings.own_partitions:
        return False
    domain = rdns[1:]
    base = _dn_parts(settings.base_dn)
    return all(r.startswith("dc=") for r in domain) and base[-len(domain) :] == domain


def _dn_parts(dn: str) -> list[str]:
    """A DN's RDNs as lower-case `attribute=value` strings; [] for what is not a DN."""
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        return [f"{name.lower()}={value.lower()}" for name, value, _ in parse_dn(dn)]
    except LDAPInvalidDnError:
        return []


def escape_filter_value(value: str) -> str:
    """A value as an LDAP filter holds it (RFC 4515 §3: `*`, `(`, `)`, `\\` and NUL escaped)."""
    return value.translate(FILTER_ESCAPES)


FILTER_ESCAPES = str.maketrans({"\\": r"\5c", "*": r"\2a", "(": r"\28", ")": r"\29", "\0": r"\00"})
