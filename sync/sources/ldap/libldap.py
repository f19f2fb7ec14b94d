"""The LDAP read on python-ldap: OpenLDAP's C library (libldap) receives and decodes the pages.

ldap3 decodes BER in Python, which makes it most of a large read's time; libldap does it in C
(docs/ldap.md has the measurements). python-ldap is the `ldap-c` extra (it builds from source
against libldap2-dev and libsasl2-dev), so this path is used where it is installed and ldap3
everywhere else (`client_for`). Both are one `Session` (sync.sources.ldap.connection), which
also decides, once for both, what a result code or a continuation reference means; this module
maps python-ldap's exceptions onto those decisions, so a read ends the same on either client.

The next page is asked for as soon as a page arrives, before the run turns that page into users:
the server prepares it and the kernel receives it meanwhile, so no reader process is needed.
"""

from __future__ import annotations

import errno
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

import ldap
from ldap.controls import SimplePagedResultsControl

from sync.errors import IncompleteRead, SourceUnavailable, StopRun, SyncError, TransientError
from sync.sources.ldap.connection import (
    CLIENT_ENV,
    CLOSED,
    Endpoint,
    ca_hint,
    check_references,
    check_result,
    search_where,
    socket_words,
)
from sync.sources.ldap.values import RawAttributes, RawEntry


class LibldapSession:
    """A `Session` on a python-ldap connection: connected, TLS started if asked, bound."""

    def __init__(self, settings: Endpoint, password: str | None) -> None:
        self.settings = settings
        self.conn = _connect(settings)
        try:
            self._bind(password)
        except BaseException:
            self.close()
            raise

    def _bind(self, password: str | None) -> None:
        """libldap connects (and, for ldaps://, shakes hands) at the first operation."""
        settings = self.settings
        opening = Opening(settings, password)
        with errors_of(settings.url, settings.timeout_seconds, opening=opening):
            if settings.start_tls:
                self.conn.start_tls_s()
        bind = f"{settings.url}: bind as {settings.bind_dn or 'anonymous'}"
        with errors_of(settings.url, settings.timeout_seconds, results=bind, opening=opening):
            self.conn.simple_bind_s(settings.bind_dn or "", password or "")

    def search(
        self, search_filter: str, attributes: list[str], *, base: str | None = None
    ) -> LibldapPages:
        return LibldapPages(self, search_filter, attributes, base or self.settings.base_dn)

    def base_entry(self, dn: str, attributes: list[str], where: str) -> RawAttributes | None:
        with errors_of(where, self.settings.timeout_seconds):
            try:
                found = self.conn.search_ext_s(
                    dn, ldap.SCOPE_BASE, "(objectClass=*)", attributes,
                    timeout=self.settings.timeout_seconds,
                )  # fmt: skip
            except ldap.NO_SUCH_OBJECT:
                return None
        entries = [_entry(dn, values) for dn, values in found if dn is not None]
        return entries[0].attributes if entries else None

    def close(self) -> None:
        with suppress(Exception):
            self.conn.unbind_ext_s()


class LibldapPages:
    """One RFC 2696 paged search; the request for the next page is sent as a page arrives."""

    def __init__(
        self, session: LibldapSession, search_filter: str, attributes: list[str], base: str
    ) -> None:
        self.session = session
        self.filter = search_filter
        self.attributes = attributes
        self.base = base
        self.where = search_where(session.settings, search_filter, base)
        self.done = False
        self._pending: int | None = None

    def _ask(self, cookie: bytes) -> int:
        settings = self.session.settings
        control = SimplePagedResultsControl(True, size=settings.page_size, cookie=cookie)
        with errors_of(self.where, settings.timeout_seconds):
            return int(
                self.session.conn.search_ext(
                    self.base, ldap.SCOPE_SUBTREE, self.filter, self.attributes,
                    serverctrls=[control],
                )
            )  # fmt: skip

    def next_page(self) -> list[RawEntry]:
        """The next page of entries; sets `done` after the last. Raises on anything but success."""
        pending = self._ask(b"") if self._pending is None else self._pending
        timeout = self.session.settings.timeout_seconds
        with errors_of(self.where, timeout):
            _, found, _, controls = self.session.conn.result3(pending, all=1, timeout=timeout)
        cookie = next(
            (c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType),
            b"",
        )
        self.done = not cookie
        if cookie:
            self._pending = self._ask(cookie)
        entries = []
        for dn, values in found:
            if dn is None:  # a continuation reference: its URIs
                check_references(self.session.settings, self.where, list(values))
            else:
                entries.append(_entry(dn, values))
        return entries


# the names of an entry's attributes as the server spells them -> lower case: entries of one
# search mostly share one spelling, so each is lowered (and looked at) once
_names: dict[tuple[str, ...], tuple[str, ...]] = {}


def _entry(dn: str, values: dict[str, list[bytes]]) -> RawEntry:
    spelt = tuple(values)
    lowered = _names.get(spelt)
    if lowered is None:
        lowered = _lowered(dn, spelt)
    attributes = values if lowered == spelt else dict(zip(lowered, values.values(), strict=True))
    return RawEntry(dn, attributes)


def _lowered(dn: str, spelt: tuple[str, ...]) -> tuple[str, ...]:
    ranged = [name for name in spelt if ";range=" in name]
    if ranged:
        # AD sends a part of an attribute of more than MaxValRange values and expects ranged
        # reads for the rest, which this path does not make: stop rather than read a part
        raise IncompleteRead(
            f"{dn}: the server sent only part of {', '.join(ranged)} (AD ranged retrieval); "
            "nobody is disabled"
        )
    if len(_names) > 4096:  # bounded: a directory of many spellings only misses the cache
        _names.clear()
    lowered = _names[spelt] = tuple(name.lower() for name in spelt)
    return lowered


def _connect(settings: Endpoint) -> Any:
    """A connection with every option that matters set here, not left to ldap.conf: verified
    TLS (the CA file, or OpenSSL's default store as ldap3 uses), no referral chasing (AD's
    domain root refers to the forest's partitions), aliases not followed, the timeouts."""
    conn = ldap.initialize(settings.url)
    trust = ssl.get_default_verify_paths()
    options: list[tuple[int, Any]] = [
        (ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3),
        (ldap.OPT_REFERRALS, ldap.OPT_OFF),
        (ldap.OPT_DEREF, ldap.DEREF_NEVER),
        (ldap.OPT_NETWORK_TIMEOUT, settings.timeout_seconds),
        (ldap.OPT_TIMEOUT, settings.timeout_seconds),  # bind and StartTLS
        (ldap.OPT_RESTART, ldap.OPT_ON),
        (ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND),
    ]
    if settings.ca_file:
        options.append((ldap.OPT_X_TLS_CACERTFILE, settings.ca_file))
    elif trust.cafile:
        options.append((ldap.OPT_X_TLS_CACERTFILE, trust.cafile))
    elif trust.capath:
        options.append((ldap.OPT_X_TLS_CACERTDIR, trust.capath))
    options.append((ldap.OPT_X_TLS_NEWCTX, 0))  # last: makes the TLS context of those above
    for option, value in options:
        conn.set_option(option, value)
    return conn


NOT_CONNECTED = {errno.ENOTCONN, errno.ECONNREFUSED}


@dataclass(frozen=True, slots=True)
class Opening:
    """A connection being made (StartTLS, the bind): a failure then "cannot reach" the
    server, or its TLS failed (asked of ldap3, with the password, to say why)."""

    settings: Endpoint
    password: str | None


@contextmanager
def errors_of(
    where: str, timeout: float, *, results: str | None = None, opening: Opening | None = None
) -> Iterator[None]:
    """python-ldap's exceptions as the error vocabulary, in the words the ldap3 path uses
    (sync.sources.ldap.connection); `results` names the operation in a result code's error."""
    try:
        yield
    except ldap.TIMEOUT:
        raise TransientError(f"{where}: no answer within {timeout:g} s (timeout_seconds)") from None
    except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR) as exc:
        info = _info(exc)
        if opening is None:  # libldap names no reason when the server goes away
            reason = socket_words(str(info.get("info") or CLOSED), timeout)
            raise TransientError(f"{where}: the connection broke: {reason}") from None
        if _tls_refused(exc, info, opening.settings):
            _tls_failure(opening)
        code = info.get("errno")
        words = "connection refused" if code in NOT_CONNECTED else _reason(info)
        raise TransientError(f"cannot reach {where}: {socket_words(words, timeout)}") from None
    except UnicodeDecodeError as exc:
        # python-ldap decodes DNs and attribute names as UTF-8 (LDAPv3's encoding) and has no
        # way to hand on the bytes; ldap3 guesses another encoding
        raise IncompleteRead(
            f"{where}: the server sent a DN or attribute name that is not UTF-8 ({exc.reason}); "
            f"nobody is disabled ({CLIENT_ENV}=ldap3 reads it with ldap3's guess)"
        ) from None
    except ldap.FILTER_ERROR as exc:
        reason = _reason(_info(exc))
        raise StopRun(f"{where}: the filter is not a valid LDAP filter: {reason}") from None
    except ldap.LDAPError as exc:
        info = _info(exc)
        if info.get("result", -1) < 0:  # libldap's own codes
            raise StopRun(f"{results or where}: {_reason(info)}") from None
        check_result(_result(info), results or where)


def _info(exc: BaseException) -> dict[str, Any]:
    return exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}


def _reason(info: dict[str, Any]) -> str:
    return str(info.get("info") or info.get("desc") or "unknown error")


def _result(info: dict[str, Any]) -> dict[str, Any]:
    """A python-ldap error as the result ldap3 would have returned: its code, ldap3's name for
    it, the server's message; a referral's URIs, which libldap appends to the message."""
    from ldap3.core.results import RESULT_CODES  # only when a result is an error

    code = int(info["result"])
    message = str(info.get("info") or "")
    referrals: list[str] = []
    if message.startswith("Referral:\n"):
        referrals, message = message.split("\n")[1:], ""
    return {
        "result": code,
        "description": RESULT_CODES.get(code, str(code)),
        "message": message,
        "referrals": [r for r in referrals if r],
    }


def _tls_refused(exc: BaseException, info: dict[str, Any], settings: Endpoint) -> bool:
    """libldap's sign of a failed TLS handshake: StartTLS fails to connect, or an ldaps://
    connection fails with a message that is not the socket's own (its TLS library's)."""
    if isinstance(exc, ldap.CONNECT_ERROR):
        return settings.start_tls
    code = info.get("errno")
    return (
        settings.url.lower().startswith("ldaps:")
        and code is not None
        and code not in NOT_CONNECTED
        and info.get("info") != os.strerror(code)
    )


def _tls_failure(opening: Opening) -> None:
    """libldap says only that TLS failed (GnuTLS gives no reason): the same handshake through
    ldap3 and Python's ssl names the reason in the ldap3 path's words, and raises it."""
    from sync.sources.ldap.ldap3_client import open_connection

    try:
        conn = open_connection(replace(opening.settings, client="ldap3"), opening.password)
    except SourceUnavailable as exc:
        if "TLS failed" in str(exc):
            raise
    except SyncError:
        pass
    else:
        with suppress(Exception):
            conn.unbind()
    raise SourceUnavailable(
        f"{opening.settings.url}: TLS failed: libldap refused the server's certificate{ca_hint()}"
    )
