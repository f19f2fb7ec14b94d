"""How fast the LDAP source reads a big directory from a real slapd on this machine.

    python bench/ldap_read.py [--people 100000] [--page-size 1000] [--dialect openldap]
                              [--entries libldap|lean|ldap3|both|clients] [--runs 1] [--groups]

Generates the people into a temporary directory (nothing is kept), loads them with slapadd,
starts slapd on a free port of 127.0.0.1, reads everything through `LdapSource` as a sync run
would (profile attributes, paged), and prints one JSON line per read: entries per second and the
peak memory the reading process reached. `--entries` chooses the client and how search entries
are taken: `libldap` (python-ldap, sync.sources.ldap.libldap), or ldap3 (sync.sources.ldap.lean:
`lean` from its BER decoding, `ldap3` from its public response); `both` alternates lean and
ldap3, `clients` libldap and lean, over `--runs` rounds against the same slapd and ends with a
line of medians and their ratio, so the comparison shares one machine state. `--groups` (openldap)
adds groups (Staff holding four groups of a quarter of the people each, Admins holding one of
them) and alternates reads without groups and with Staff and Admins requested (SPEC §13), the
lean way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.sources.base import ReadRequest
from sync.sources.ldap import LdapSource
from sync.sources.settings import LdapSourceSettings
from tests.support import slapd as S

PROFILE = frozenset(
    {"primary_email", "emails", "employee_code", "given_name", "family_name", "display_name"}
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--dialect", choices=["openldap", "active_directory"], default="openldap")
    parser.add_argument(
        "--entries", choices=["libldap", "lean", "ldap3", "both", "clients"], default="lean"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--groups", action="store_true")
    args = parser.parse_args()
    kinds = {"both": ["lean", "ldap3"], "clients": ["libldap", "lean"]}.get(
        args.entries, [args.entries]
    )
    if args.groups:
        kinds = ["lean", "lean+groups"]

    with tempfile.TemporaryDirectory(prefix="ldap-bench-") as workdir:
        server = S.Slapd(Path(workdir) / "slapd")
        entries = itertools.chain(
            [S.base_ldif()],
            S.people(args.people, args.dialect),
            group_entries(args.people) if args.groups else [],
        )
        ldif = S.write_ldif(Path(workdir) / "people.ldif", entries)
        started = time.monotonic()
        server.load(ldif)
        load_seconds = time.monotonic() - started
        server.start()
        seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
        try:
            for _ in range(args.runs):
                for kind in kinds:
                    figures = measure(server, args, load_seconds, lean=kind != "ldap3", kind=kind)
                    seconds[kind].append(float(str(figures["read_seconds"])))
                    print(json.dumps({"entries": kind, **figures}), flush=True)
        finally:
            server.stop()
        medians = {kind: round(statistics.median(values), 2) for kind, values in seconds.items()}
        summary: dict[str, object] = {"median_read_seconds": medians}
        if "libldap" in medians and "lean" in medians:
            summary["lean_over_libldap"] = round(medians["lean"] / medians["libldap"], 3)
        if "ldap3" in medians:
            summary["ldap3_over_lean"] = round(medians["ldap3"] / medians["lean"], 3)
        if "lean+groups" in medians:
            summary["groups_over_none"] = round(medians["lean+groups"] / medians["lean"], 3)
        print(json.dumps(summary))


GROUPS = (f"cn=Staff,{S.GROUPS}", f"cn=Admins,{S.GROUPS}")


def group_entries(people: int) -> list[str]:
    quarters = [f"Quarter{q}" for q in range(4)]
    entries = [S.groups_ou()]
    for q, name in enumerate(quarters):
        members = [S.person_dn(i) for i in range(1 + q, people + 1, 4)]
        entries.append(S.group_entry(name, members))
    entries.append(S.group_entry("Staff", [f"cn={n},{S.GROUPS}" for n in quarters]))
    entries.append(S.group_entry("Admins", [f"cn={quarters[0]},{S.GROUPS}"]))
    return entries


def measure(
    server: S.Slapd, args: argparse.Namespace, load_seconds: float, *, lean: bool, kind: str = ""
) -> dict[str, object]:
    os.environ["BENCH_LDAP_PASSWORD"] = S.SYNC_PW
    settings = LdapSourceSettings(
        kind="ldap",
        url=server.url,
        bind_dn=S.SYNC_DN,
        password_env="BENCH_LDAP_PASSWORD",
        base_dn=S.PEOPLE,
        dialect=args.dialect,
        page_size=args.page_size,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    users = pages = 0
    started = time.monotonic()
    groups = frozenset(GROUPS) if kind == "lean+groups" else frozenset()
    client = "libldap" if kind == "libldap" else "ldap3"
    source = LdapSource(settings, client=client, lean_entries=lean)
    read = source.read(ReadRequest(PROFILE, groups=groups))
    in_groups = 0
    while True:
        try:
            page = next(read)
        except StopIteration as stop:
            result = stop.value
            break
        users += len(page.users)
        in_groups += sum(1 for user in page.users if user.groups)
        pages += 1
    seconds = time.monotonic() - started
    return {
        "people": args.people,
        "dialect": args.dialect,
        "page_size": args.page_size,
        "users_read": users,
        "users_in_groups": in_groups,
        "pages": pages,
        "full": result.full,
        "read_seconds": round(seconds, 2),
        "entries_per_second": round(users / seconds),
        "slapadd_seconds": round(load_seconds, 2),
        # ru_maxrss is in KiB on Linux; the growth shows what the read itself held
        "peak_rss_mib_before_read": round(rss_before / 1024, 1),
        "peak_rss_mib_after_read": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
        # the largest reaped child so far: the reader process, or slapadd if that was larger
        "reader_process_peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
    }


if __name__ == "__main__":
    main()
