"""A real Active Directory domain controller (Samba 4) in user space, for tests (TESTING.md).

`SambaDc(workdir)` provisions a domain CORP.EXAMPLE.TEST into `workdir` (10-25 s), restricts it
to LDAP on one loopback address, starts `samba -i` with its standard input on a pipe (it exits
when that closes) and stops it. Without Samba installed it raises `SambaMissing` with the command
that installs it, so a test fails instead of being skipped.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import NONE, Connection, Server

SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
REALM = "corp.example.test"
DOMAIN_DN = "DC=corp,DC=example,DC=test"
ADMIN = f"Administrator@{REALM}"
ADMIN_PW = "Passw0rd!x"
# what the DC runs: LDAP (and the rest it needs to answer it); no DNS, NetBIOS, file service
SETTINGS = (
    "bind interfaces only = yes",
    "server services = -dns -nbt -s3fs -winbindd -ntp_signd -kcc -dnsupdate",
    "ldap server require strong auth = no",  # plain ldap:// binds (a real DC demands TLS)
)


def free_loopback_address() -> str:
    """An address of 127.0.0.0/8 where nothing answers on the LDAP port."""
    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((address, 389)) != 0:
                return address
    raise RuntimeError("no free loopback address for the domain controller's LDAP port")


class SambaMissing(RuntimeError):
    """Samba is not installed: tests must fail (never skip) with a message that says what to do."""


@dataclass
class SambaDc:
    workdir: Path
    # a loopback address of its own: 389 on 127.0.0.1 may be someone else's
    address: str = field(default_factory=lambda: free_loopback_address())
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for binary in (SAMBA, SAMBA_TOOL):
            if not os.access(binary, os.X_OK):
                raise SambaMissing(
                    f"{binary} not found: install Samba with `apt-get install -y "
                    "--no-install-recommends samba samba-ad-dc samba-ad-provision winbind "
                    "ldap-utils` (tests need a real AD domain controller)"
                )

    @property
    def url(self) -> str:
        return f"ldap://{self.address}"

    @property
    def config(self) -> Path:
        return self.workdir / "etc" / "smb.conf"

    def provision(self) -> None:
        command = [
            SAMBA_TOOL, "domain", "provision", f"--realm={REALM.upper()}", "--domain=CORP",
            "--server-role=dc", "--dns-backend=SAMBA_INTERNAL", f"--adminpass={ADMIN_PW}",
            f"--targetdir={self.workdir}", "--use-rfc2307",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"samba-tool domain provision failed:\n{done.stdout}{done.stderr}")
        # provision's --option flags do not reach smb.conf: add to [global] (its first section)
        text = self.config.read_text(encoding="utf-8")
        lines = [
            f"interfaces = {self.address}/8",
            f"log file = {self.workdir / 'samba.log'}",
            *SETTINGS,
        ]
        added = "".join(f"\t{line}\n" for line in lines)
        self.config.write_text(text.replace("[global]\n", f"[global]\n{added}", 1), "utf-8")

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [SAMBA, "-i", "-s", str(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "samba.out").open("wb"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"samba exited: {(self.workdir / 'samba.out').read_text()}")
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex((self.address, 389)) == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"samba did not listen on {self.address}:389 within {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()  # `samba -i` exits when its standard input closes
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def admin(self) -> Connection:
        server = Server(self.url, get_info=NONE)
        return Connection(server, ADMIN, ADMIN_PW, auto_bind=True, raise_exceptions=True)
