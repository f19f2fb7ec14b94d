"""The one connection of a read (a `Session`), its paged searches, and every ldap3 error mapped
to ours. Two clients implement a session: ldap3 here (pure Python, installed everywhere) and
python-ldap (OpenLDAP's libldap, sync.sources.ldap.libldap) where it is installed; `open_session`
picks the endpoint's. What a result code or a continuation reference means is decided here, once,
for both.

ldap3 runs with `raise_exceptions=False`, so a search returns its result code and this module
decides what each code means; socket-level failures still arrive as exceptions and are mapped in
`ldap_errors`. Search entries come out as `RawEntry`s (sync.sources.ldap.lean, the one module
that touches ldap3's internals). Nothing here retries: the reader process retries connecting,
binding and the first page as a whole (sync.sources.ldap.reader).
"""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from ldap3 import ANONYMOUS, BASE, DEREF_NEVER, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.dn import parse_dn

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, TransientError
from sync.sources.ldap import lean
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
# exceptions of a connection that broke or timed out: worth another attempt
TRANSIENT_EXCEPTIONS = (
    ldap_exc.LDAPSocketReceiveError,
    ldap_exc.LDAPSocketSendError,
    ldap_exc.LDAPSessionTerminatedByServerError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPSocketCloseError,
)
TLS_WORDS = ("CERTIFICATE", "SSL", "TLS", "certificate")
Client = Literal["libldap", "ldap3"]


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


@contextmanager
def ldap_errors(where: str, timeout: float | None = None) -> Iterator[None]:
    """Maps ldap3's exceptions to the error vocabulary (STYLE.md 6); `where` prefixes messages,
    `timeout` (timeout_seconds) is named when the server did not answer in time."""
    try:
        yield
    except TRANSIENT_EXCEPTIONS as exc:
        reason = _reason(exc)
        if timeout is not None and _timed_out(exc, reason):
            raise TransientError(
                f"{where}: no answer within {timeout:g} s (timeout_seconds)"
            ) from None
        raise TransientError(
            f"{where}: the connection broke: {socket_words(reason, timeout)}"
        ) from None
    except ldap_exc.LDAPCertificateError:
        # ldap3's message carries the whole certificate; the names are what matter
        raise SourceUnavailable(
            f"{where}: TLS failed: the server's certificate doesn't match the host in url"
            f"{ca_hint()}"
        ) from None
    except ldap_exc.LDAPStartTLSError as exc:
        raise SourceUnavailable(f"{where}: TLS failed: {_reason(exc)}{ca_hint()}") from None
    except ldap_exc.LDAPSocketOpenError as exc:
        reason = _reason(exc)
        if any(word in reason for word in TLS_WORDS):
            raise SourceUnavailable(f"{where}: TLS failed: {reason}{ca_hint()}") from None
        raise TransientError(f"cannot reach {where}: {socket_words(reason, timeout)}") from None
    except ldap_exc.LDAPInvalidFilterError as exc:
        raise StopRun(f"{where}: the filter is not a valid LDAP filter: {exc}") from None
    except ldap_exc.LDAPInvalidDnError as exc:
        raise StopRun(f"{where}: not a valid DN: {exc}") from None
    except ldap_exc.LDAPException as exc:
        raise StopRun(f"{where}: {type(exc).__name__}: {_reason(exc)}") from None


def _reason(exc: object) -> str:
    """The innermost message: ldap3 nests socket errors as exceptions whose first argument is
    another exception's arguments, or a list of (exception, address) tried."""
    if isinstance(exc, BaseException):
        if not exc.args:
            return type(exc).__name__
        if len(exc.args) > 1 and isinstance(exc.args[1], list) and exc.args[1]:
            return "; ".join(_reason(item[0]) for item in exc.args[1])
        return _reason(exc.args[0])
    if isinstance(exc, tuple) and exc:
        return _reason(exc[0])
    text = str(exc)
    # ldap3 rebuilds an exception from str() of one whose argument was a tuple: "('...',)"
    return text[2:-3] if text.startswith("('") and text.endswith("',)") else text


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


def _timed_out(exc: BaseException, reason: str) -> bool:
    return isinstance(exc, ldap_exc.LDAPResponseTimeoutError) or "timed out" in reason.lower()


def ca_hint() -> str:
    return (
        " (is ca_file the CA that signed the server's certificate, and does the certificate "
        "name the host in url?)"
    )


def open_session(settings: Endpoint, password: str | None) -> Session:
    """A bound session of the endpoint's client; raises our errors."""
    check_ca_file(settings)
    if settings.client == "libldap":
        from sync.sources.ldap import libldap

        return libldap.LibldapSession(settings, password)
    return Ldap3Session(open_connection(settings, password), settings)


def check_ca_file(settings: Endpoint) -> None:
    if settings.ca_file and not os.access(settings.ca_file, os.R_OK):
        raise StopRun(f"{settings.url}: ca_file {settings.ca_file} cannot be read")


def open_connection(settings: Endpoint, password: str | None) -> Connection:
    """Connects (TLS verified by default), starts TLS if asked, binds; raises our errors."""
    where = settings.url
    check_ca_file(settings)
    with ldap_errors(where, settings.timeout_seconds):
        # ldap3 does not verify certificates unless asked (its default is CERT_NONE)
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=settings.ca_file,
        )
        server = Server(
            settings.url, get_info=NONE, tls=tls, connect_timeout=settings.timeout_seconds
        )
        conn = Connection(
            server,
            user=settings.bind_dn,
            password=password,
            authentication=SIMPLE if settings.bind_dn else ANONYMOUS,
            read_only=True,
            raise_exceptions=False,
            auto_referrals=False,
            receive_timeout=math.ceil(settings.timeout_seconds),  # ldap3 packs it as an integer
            return_empty_attributes=False,
            fast_decoder=True,
            check_names=False,  # no schema is read (get_info=NONE): nothing to check against
        )
        if settings.lean_entries:
            lean.install(conn)
        try:
            conn.open()
            if settings.start_tls:
                conn.start_tls()
            if not conn.bind():
                check_result(conn.result, f"{where}: bind as {settings.bind_dn or 'anonymous'}")
        except BaseException:
            with suppress(Exception):
                conn.unbind()
            raise
    return conn


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


class PagedSearch:
    """One RFC 2696 paged search, page by page, each page checked for completeness."""

    def __init__(
        self,
        conn: Connection,
        settings: Endpoint,
        search_filter: str,
        attributes: list[str],
        *,
        base: str | None = None,
    ) -> None:
        self.conn = conn
        self.base = base or settings.base_dn
        self.settings = settings
        self.filter = search_filter
        self.attributes = attributes
        self.cookie: bytes | None = None
        self.done = False
        self.where = search_where(settings, search_filter, self.base)

    def next_page(self) -> list[RawEntry]:
        """The next page of entries; sets `done` after the last. Raises on anything but success."""
        with ldap_errors(self.where, self.settings.timeout_seconds):
            self.conn.search(
                self.base,
                self.filter,
                SUBTREE,
                # aliases are not followed: a person reached twice would be two users
                dereference_aliases=DEREF_NEVER,
                attributes=self.attributes,
                paged_size=self.settings.page_size,
                paged_cookie=self.cookie,
            )
        result = self.conn.result
        check_result(result, self.where)
        entries = []
        for item in self.conn.response or ():
            if item.get("type") == "searchResEntry":
                entries.append(lean.entry_of(item))
            elif item.get("type") == "searchResRef":
                check_references(self.settings, self.where, item.get("uri") or [])
        control = (result.get("controls") or {}).get(PAGED_RESULTS)
        self.cookie = control["value"]["cookie"] if control else None
        self.done = not self.cookie
        return entries


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


class Ldap3Session:
    """A `Session` on an ldap3 connection."""

    def __init__(self, conn: Connection, settings: Endpoint) -> None:
        self.conn = conn
        self.settings = settings

    def search(
        self, search_filter: str, attributes: list[str], *, base: str | None = None
    ) -> PagedSearch:
        return PagedSearch(self.conn, self.settings, search_filter, attributes, base=base)

    def base_entry(self, dn: str, attributes: list[str], where: str) -> RawAttributes | None:
        with ldap_errors(where, self.settings.timeout_seconds):
            self.conn.search(dn, "(objectClass=*)", BASE, dereference_aliases=DEREF_NEVER,
                             attributes=attributes)  # fmt: skip
        if (self.conn.result or {}).get("result") == NO_SUCH_OBJECT:
            return None
        check_result(self.conn.result, where)
        items = self.conn.response or ()
        found = (lean.entry_of(i) for i in items if i.get("type") == "searchResEntry")
        entry = next(found, None)
        return entry.attributes if entry else None

    def close(self) -> None:
        with suppress(Exception):
            self.conn.unbind()


def _dn_parts(dn: str) -> list[str]:
    """A DN's RDNs as lower-case `attribute=value` strings; [] for what is not a DN."""
    try:
        return [f"{name.lower()}={value.lower()}" for name, value, _ in parse_dn(dn)]
    except ldap_exc.LDAPInvalidDnError:
        return []
