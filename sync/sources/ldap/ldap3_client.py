"""The ldap3 client of a read: its connection, its paged searches, and its errors mapped to ours.

ldap3 runs with `raise_exceptions=False`, so a search returns its result code and
sync.sources.ldap.connection decides what each code means; socket-level failures still arrive as
exceptions and are mapped in `ldap_errors`. Search entries come out as `RawEntry`s
(sync.sources.ldap.lean, the one module that touches ldap3's internals). Nothing here retries:
the reader retries connecting, binding and the first page as a whole (sync.sources.ldap.reader).
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ldap3 import ANONYMOUS, BASE, DEREF_NEVER, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc

from sync.errors import SourceUnavailable, StopRun, TransientError
from sync.sources.ldap import lean
from sync.sources.ldap.connection import (
    NO_SUCH_OBJECT,
    PAGED_RESULTS,
    Endpoint,
    ca_hint,
    check_ca_file,
    check_references,
    check_result,
    search_where,
    socket_words,
)
from sync.sources.ldap.values import RawAttributes, RawEntry

# exceptions of a connection that broke or timed out: worth another attempt
TRANSIENT_EXCEPTIONS = (
    ldap_exc.LDAPSocketReceiveError,
    ldap_exc.LDAPSocketSendError,
    ldap_exc.LDAPSessionTerminatedByServerError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPSocketCloseError,
)
TLS_WORDS = ("CERTIFICATE", "SSL", "TLS", "certificate")
TLS_WORDS = ("CERTIFICATE", "SSL", "TLS", "certificate")


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


def _timed_out(exc: BaseException, reason: str) -> bool:
    return isinstance(exc, ldap_exc.LDAPResponseTimeoutError) or "timed out" in reason.lower()


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
