"""A real OpenLDAP server in user space, for tests and benchmarks (TESTING.md, STYLE.md 9).

`Slapd(workdir)` writes a slapd.conf (with an Active Directory test schema, the password-policy
overlay and, if asked, TLS), loads LDIF offline with slapadd, starts slapd on a free port of
127.0.0.1 and stops it. Debian's `slapd` package must be installed: a missing binary raises
`SlapdMissing` with the command that installs it, so a test fails instead of being skipped.

The generators write people in the OpenLDAP shape (inetOrgPerson) or the Active Directory shape
(objectClass user with objectGUID bytes, userAccountControl, whenChanged, ...), streaming to a file.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ldap3 import BASE, NONE, Connection, Server

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "secret"
PEOPLE = f"ou=people,{SUFFIX}"
# a plain (non-root) account for the sync to bind as: slapd's `limits` apply to it, not to rootdn
SYNC_DN = f"cn=sync,{SUFFIX}"
SYNC_PW = "sync-password"
NAMESPACE = uuid.UUID("6f1d2f62-3b7e-4a53-9a55-2d4d5e7c9a10")
OLD_TIME = datetime(2024, 1, 1, tzinfo=UTC)

# Active Directory emulated on slapd: the attributes the `active_directory` dialect reads, in a
# private OID arc. objectGUID is an octet string as in AD; objectCategory holds plain "person"
# (AD stores a DN and expands `objectCategory=person` itself; the default filter still matches).
AD_SCHEMA = """\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'objectGUID'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.5 NAME 'employeeID'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.6 NAME 'proxyAddresses'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.99999.1.7 NAME 'whenChanged'
    EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.8 NAME 'objectCategory'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.9 NAME 'accountExpires'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP inetOrgPerson STRUCTURAL
    MAY ( objectGUID $ userAccountControl $ sAMAccountName $ userPrincipalName $ employeeID $
          proxyAddresses $ whenChanged $ objectCategory $ accountExpires ) )
"""


class SlapdMissing(RuntimeError):
    """slapd is not installed: tests must fail (never skip) with a message that says what to do."""


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path
    key: Path


@dataclass
class Slapd:
    """One slapd with its own configuration and database under `workdir`."""

    workdir: Path
    tls: TlsFiles | None = None
    # extra slapd.conf lines for the database, e.g. a `limits` line for SYNC_DN
    database_lines: tuple[str, ...] = ()
    # slapd's -d level: 0 logs nothing; 256 ("stats") logs each operation, with the attributes
    # a search asked for, to slapd.log
    debug_level: int = 0
    slapd_binary: str = SLAPD
    slapadd_binary: str = SLAPADD
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for binary in (self.slapd_binary, self.slapadd_binary):
            if not os.access(binary, os.X_OK):
                raise SlapdMissing(
                    f"{binary} not found: install OpenLDAP with "
                    "`apt-get install -y slapd ldap-utils` (tests need a real slapd)"
                )
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir(exist_ok=True)
        (self.workdir / "ad.schema").write_text(AD_SCHEMA, encoding="utf-8")
        self.config.write_text(self._config_text(), encoding="utf-8")

    @property
    def config(self) -> Path:
        return self.workdir / "slapd.conf"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def _config_text(self) -> str:
        schemas = ["core", "cosine", "inetorgperson", "nis"]
        lines = [f"include {SCHEMA_DIR / s}.schema" for s in schemas]
        lines += [
            f"include {self.workdir / 'ad.schema'}",
            f"pidfile {self.workdir / 'slapd.pid'}",
            f"argsfile {self.workdir / 'slapd.args'}",
            f"modulepath {MODULE_DIR}",
            "moduleload back_mdb",
            "moduleload ppolicy",  # defines pwdAccountLockedTime (OpenLDAP 2.5)
            "sizelimit unlimited",
        ]
        if self.tls:
            lines += [
                f"TLSCACertificateFile {self.tls.ca_cert}",
                f"TLSCertificateFile {self.tls.cert}",
                f"TLSCertificateKeyFile {self.tls.key}",
            ]
        lines += [
            "database mdb",
            "maxsize 2147483648",
            f'suffix "{SUFFIX}"',
            f'rootdn "{ROOT_DN}"',
            f"rootpw {ROOT_PW}",
            f"directory {self.workdir / 'db'}",
            "index objectClass,uid,mail,employeeNumber,entryUUID eq",
            "index modifyTimestamp,whenChanged eq",
            *self.database_lines,
            "overlay ppolicy",
        ]
        return "\n".join(lines) + "\n"

    def load(self, ldif: Path) -> None:
        """Loads entries offline (before start): about 2 s for 100,000 people."""
        completed = subprocess.run(
            [self.slapadd_binary, "-q", "-f", str(self.config), "-l", str(ldif)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"slapadd failed: {completed.stderr.strip()[-2000:]}")

    def start(self, timeout: float = 15) -> None:
        self.port = self.port or free_port()
        urls = [self.url]
        if self.tls:
            self.tls_port = self.tls_port or free_port()
            urls.append(self.ldaps_url)
        log = (self.workdir / "slapd.log").open("wb")
        debug = str(self.debug_level)
        # -d 0 keeps slapd in the foreground, so this PID is slapd's own
        self.process = subprocess.Popen(
            [self.slapd_binary, "-f", str(self.config), "-h", " ".join(urls), "-d", debug],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = (self.workdir / "slapd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"slapd did not start on port {self.port}: {output}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """The server vanishes without a word (a crash, a cut path): SIGKILL. SIGTERM would let
        slapd answer operations in flight with `unavailable` (it is shutting down)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def admin(self) -> Connection:
        """An ldap3 connection bound as the root DN, for tests that change the directory."""
        conn = Connection(
            Server("127.0.0.1", port=self.port, get_info=NONE),
            ROOT_DN,
            ROOT_PW,
            raise_exceptions=True,
        )
        conn.bind()
        return conn

    @property
    def log_text(self) -> str:
        return (self.workdir / "slapd.log").read_text(encoding="utf-8", errors="replace")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    """True once slapd answers a search of the root DSE (the listener accepts before the database
    is ready, so a TCP connect is not enough)."""
    try:
        server = Server("127.0.0.1", port=port, connect_timeout=0.5, get_info=NONE)
        with Connection(server, receive_timeout=1) as conn:
            return bool(conn.search("", "(objectClass=*)", BASE, attributes=["namingContexts"]))
    except Exception:  # not up yet, whatever ldap3 says
        return False


# ---------------------------------------------------------------------------------------------
# generated data


def generalized(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def person_uuid(index: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"person-{index}")


def base_ldif(*, sync_account: bool = True) -> str:
    """The suffix, ou=people and the sync account (a plain entry with a password)."""
    text = (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: Example\n\n"
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
    )
    if sync_account:
        text += (
            f"dn: {SYNC_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
            f"cn: sync\nsn: sync\nuserPassword: {SYNC_PW}\n\n"
        )
    return text


def openldap_person(index: int, *, locked: bool = False, changed: datetime = OLD_TIME) -> str:
    uid = f"u{index:06d}"
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: Person {index}",
        f"sn: Family{index}",
        f"givenName: Given{index}",
        f"displayName: Given{index} Family{index}",
        f"mail: {uid}@example.com",
        f"employeeNumber: E{index:06d}",
        f"entryUUID: {person_uuid(index)}",
        f"createTimestamp: {generalized(changed)}",
        f"modifyTimestamp: {generalized(changed)}",
    ]
    if locked:
        lines.append("pwdAccountLockedTime: 000001010000Z")
    return "\n".join(lines) + "\n\n"


def ad_person(index: int, *, disabled: bool = False, changed: datetime = OLD_TIME) -> str:
    name = f"user{index:06d}"
    guid = base64.b64encode(person_uuid(index).bytes_le).decode()
    stamp = changed.astimezone(UTC).strftime("%Y%m%d%H%M%S.0Z")
    lines = [
        f"dn: cn={name},{PEOPLE}",
        "objectClass: user",
        f"cn: {name}",
        f"sn: Family{index}",
        f"givenName: Given{index}",
        f"displayName: Given{index} Family{index}",
        f"objectGUID:: {guid}",
        f"userAccountControl: {514 if disabled else 512}",
        f"sAMAccountName: {name}",
        f"userPrincipalName: {name}@corp.example.com",
        f"mail: {name}@example.com",
        f"proxyAddresses: SMTP:{name}@example.com",
        f"proxyAddresses: smtp:{name}@alias.example.com",
        f"proxyAddresses: X500:/o=Example/cn={name}",
        f"employeeID: E{index:06d}",
        f"whenChanged: {stamp}",
        "objectCategory: person",
    ]
    return "\n".join(lines) + "\n\n"


GROUPS = f"ou=groups,{SUFFIX}"


def groups_ou() -> str:
    return f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n"


def group_entry(cn: str, members: Iterable[str], *, unique: bool = False) -> str:
    """A groupOfNames (or groupOfUniqueNames) under ou=groups; its members are DNs, people's
    or other groups' (nesting). groupOfNames needs a member: an empty one holds the base."""
    attribute, kind = (
        ("uniqueMember", "groupOfUniqueNames") if unique else ("member", "groupOfNames")
    )
    values = list(members) or [SUFFIX]
    lines = [f"dn: cn={cn},{GROUPS}", f"objectClass: {kind}", f"cn: {cn}"]
    lines += [f"{attribute}: {value}" for value in values]
    return "\n".join(lines) + "\n\n"


def person_dn(index: int) -> str:
    return f"uid=u{index:06d},{PEOPLE}"


def write_ldif(path: Path, parts: Iterable[str]) -> Path:
    """Streams entries to a file, so a 100,000-person directory never sits in memory."""
    with path.open("w", encoding="utf-8") as handle:
        for part in parts:
            handle.write(part)
    return path


def people(count: int, dialect: str = "openldap", start: int = 1) -> Iterator[str]:
    """`count` generated people spread over the past (a minute apart), newest last."""
    make = ad_person if dialect == "active_directory" else openldap_person
    for index in range(start, start + count):
        yield make(index, changed=OLD_TIME + timedelta(minutes=index))
