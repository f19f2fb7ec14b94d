"""A generated directory with the demo's mix (config/demo-users.csv), at any size.

Every person is an OpenLDAP `inetOrgPerson` with a Japanese name (UTF-8 family, given and display
names; the address in romaji). Out of every 100 people, by position:

- 2 share their address's local part with the person before them on another domain
  (`taro.sato@example.com` and `taro.sato@example.co.jp`): a name collision, suffixed `-2`;
- 3 write their address in mixed case (`Taro.Sato@Example.COM`);
- 1 has no `mail` (no account: `missing_attribute`);
- 2 are locked by the password policy (`pwdAccountLockedTime`): inactive, no account;
- 3 have a full-width employee number (`ＥＭＰ０００１２３`, NFKC-normalised);
- 5 have no `displayName` (the sync falls back to `cn`);
- 1 has no `employeeNumber`;

and one in 1,000 has a local part the default name pattern refuses (`invalid_name`). Three people
have the reserved local parts `admin`, `root` and `postmaster` (suffixed `-2`). Entries carry a few
attributes the sync does not ask for (title, telephone, department), as real ones do.

Change times are the past, a minute apart, so a delta read after `changes()` reads what changed.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

NAMESPACE = uuid.UUID("0b5a2c1e-8f4d-4c1a-9d7e-3e6f2a1b9c80")
OLD_TIME = datetime(2024, 1, 1, tzinfo=UTC)
RESERVED = ("admin", "root", "postmaster")

FAMILY = (
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
    ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
    ("小林", "kobayashi"), ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"),
    ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"), ("井上", "inoue"),
    ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
    ("山崎", "yamazaki"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"),
    ("阿部", "abe"), ("石川", "ishikawa"), ("山下", "yamashita"), ("中島", "nakajima"),
    ("石井", "ishii"), ("小川", "ogawa"), ("前田", "maeda"), ("岡田", "okada"),
)  # fmt: skip
GIVEN = (
    ("太郎", "taro"), ("花子", "hanako"), ("翔", "sho"), ("陽菜", "hina"), ("蓮", "ren"),
    ("結衣", "yui"), ("大翔", "hiroto"), ("葵", "aoi"), ("湊", "minato"), ("凛", "rin"),
    ("悠真", "yuma"), ("結菜", "yuna"), ("樹", "itsuki"), ("咲良", "sakura"), ("健二", "kenji"),
    ("由紀", "yuki"), ("次郎", "jiro"), ("美咲", "misaki"), ("拓海", "takumi"), ("芽依", "mei"),
    ("颯太", "sota"), ("莉子", "riko"), ("陸", "riku"), ("美月", "mizuki"), ("大和", "yamato"),
    ("杏", "an"), ("悠人", "yuto"), ("心春", "koharu"), ("蒼", "ao"), ("紬", "tsumugi"),
    ("一郎", "ichiro"), ("恵", "megumi"), ("直樹", "naoki"),
)  # fmt: skip
TITLES = ("社員", "主任", "係長", "課長", "部長")
DEPARTMENTS = ("営業部", "開発部", "総務部", "人事部", "経理部", "情報システム部")


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    uid: str
    family: tuple[str, str]
    given: tuple[str, str]
    mail: str | None
    employee_number: str | None
    display_name: str | None
    locked: bool

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE}"


SUFFIX = "dc=example,dc=com"
PEOPLE = f"ou=people,{SUFFIX}"


def entry_uuid(index: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"bench-person-{index}")


def person(index: int, local: str, previous_local: str) -> Person:
    """Person `index` (1-based), whose own address's local part is `local`."""
    family, given = _names(index)
    slot = index % 100
    mail: str | None = f"{local}@example.com"
    if slot in (17, 67):  # the local part of the person before, on the Japanese domain
        mail = f"{previous_local}@example.co.jp"
    elif slot in (5, 35, 75):
        mail = f"{local.title()}@Example.COM"
    elif slot == 41:
        mail = None
    if index % 1000 == 500:
        mail = f"{given[1]}!{family[1]}{index}@example.com"  # "!" is outside the name pattern
    if index <= len(RESERVED):
        mail = f"{RESERVED[index - 1]}@example.co.jp"
    number = f"EMP{index:06d}"
    if slot in (3, 43, 83):
        number = "".join(chr(ord(c) + 0xFEE0) for c in number)  # full-width forms
    return Person(
        index=index,
        uid=f"u{index:07d}",
        family=family,
        given=given,
        mail=mail,
        employee_number=None if slot == 29 else number,
        display_name=None if slot in (9, 29, 49, 69, 89) else f"{family[0]} {given[0]}",
        locked=slot in (23, 73),
    )


def _names(index: int) -> tuple[tuple[str, str], tuple[str, str]]:
    family = FAMILY[(index * 7) % len(FAMILY)]
    given = GIVEN[(index * 11 + index // len(FAMILY)) % len(GIVEN)]
    return family, given


def generalized(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _line(name: str, value: str) -> str:
    """An LDIF line; values that are not plain ASCII are base64 (RFC 2849 SAFE-STRING)."""
    if value.isascii() and not value.startswith((" ", ":", "<")):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def entry_ldif(p: Person) -> str:
    changed = generalized(OLD_TIME + timedelta(minutes=p.index))
    lines = [
        f"dn: {p.dn}",
        "objectClass: inetOrgPerson",
        f"uid: {p.uid}",
        _line("cn", f"{p.family[0]} {p.given[0]}"),
        _line("sn", p.family[0]),
        _line("givenName", p.given[0]),
        _line("title", TITLES[p.index % len(TITLES)]),
        _line("departmentNumber", DEPARTMENTS[p.index % len(DEPARTMENTS)]),
        f"telephoneNumber: +81 3 {p.index % 10000:04d} {p.index % 7919:04d}",
        f"entryUUID: {entry_uuid(p.index)}",
        f"createTimestamp: {changed}",
        f"modifyTimestamp: {changed}",
    ]
    if p.display_name:
        lines.append(_line("displayName", p.display_name))
    if p.mail:
        lines.append(f"mail: {p.mail}")
    if p.employee_number:
        lines.append(_line("employeeNumber", p.employee_number))
    if p.locked:
        lines.append("pwdAccountLockedTime: 000001010000Z")
    return "\n".join(lines) + "\n\n"


def base_ldif(sync_dn: str, sync_password: str) -> str:
    return (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: Example\n\n"
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"dn: {sync_dn}\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
        f"cn: sync\nsn: sync\nuserPassword: {sync_password}\n\n"
    )


def people(count: int) -> Iterator[Person]:
    """Everyone, in index order; a romaji name seen before gets a number (`taro.sato2`)."""
    counts: dict[str, int] = {}
    previous = ""
    for index in range(1, count + 1):
        family, given = _names(index)
        base = f"{given[1]}.{family[1]}"
        counts[base] = counts.get(base, 0) + 1
        local = base if counts[base] == 1 else f"{base}{counts[base]}"
        yield person(index, local, previous)
        previous = local


def directory_ldif(count: int, sync_dn: str, sync_password: str) -> Iterator[str]:
    yield base_ldif(sync_dn, sync_password)
    for p in people(count):
        yield entry_ldif(p)


def changes_ldif(count: int, round_number: int) -> tuple[str, dict[str, int]]:
    """One LDIF of modifications touching 1% of `count` people (every 100th, from the 50th), as
    a day's HR changes would: of each ten, eight new display names (an update), one new address
    (a rename and its email), one locked (a disable). Round `round_number` writes values of its
    own, so repeating it on a restored store does the same work."""
    parts, kinds = [], {"update": 0, "rename": 0, "disable": 0}
    for number, index in enumerate(range(50, count + 1, 100)):
        uid = f"u{index:07d}"
        kind = ("rename", "disable")[number % 10 - 8] if number % 10 >= 8 else "update"
        kinds[kind] += 1
        header = f"dn: uid={uid},{PEOPLE}\nchangetype: modify\n"
        if kind == "update":
            change = "replace: displayName\n" + _line("displayName", f"異動 {round_number} {uid}")
        elif kind == "rename":
            change = f"replace: mail\nmail: moved{round_number}.{uid}@example.com"
        else:
            stamp = generalized(datetime.now(UTC))
            change = f"replace: pwdAccountLockedTime\npwdAccountLockedTime: {stamp}"
        parts.append(header + change + "\n-\n\n")
    return "".join(parts), kinds
