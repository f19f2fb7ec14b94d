"""Group membership for scope and roles (SPEC §13), read in the reader process on the read's own
connection, before the people: the requested groups' members, nested groups included, as a map
from a member's DN (compared the LDAP way: case-insensitively, spaces around separators ignored)
to the requested groups it belongs to, each spelt as the tenant's configuration spells it.

- `in_chain` (Active Directory): per requested group one paged search under `base_dn` for
  `(memberOf:1.2.840.113556.1.4.1941:=<group>)` asking for no attributes: the DC resolves
  nesting itself (LDAP_MATCHING_RULE_IN_CHAIN).
- `members` (OpenLDAP): groupOfNames / groupOfUniqueNames hold `member` / `uniqueMember` DNs and
  slapd resolves nothing, so the group entries under `base_dn` and under each requested group's
  parent are read (their member values only) and nesting is followed here, cycles included.
- `exists` (`[tenants.source.attributes] groups` names an attribute of the person, such as
  memberOf): the people carry their groups; only that each requested group exists is checked.

A requested group that does not exist stops the run naming it: read as "nobody is a member", it
would put everyone out of scope and disable them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sync.errors import StopRun
from sync.sources.ldap.connection import Endpoint, Session, escape_filter_value

Mode = Literal["in_chain", "members", "exists"]
IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN
GROUP_FILTER = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
MEMBER_ATTRIBUTES = ("member", "uniqueMember")
# the object classes whose membership each mode reads (lower case)
GROUP_CLASSES: dict[str, frozenset[str]] = {
    "members": frozenset({"groupofnames", "groupofuniquenames"}),
    "in_chain": frozenset({"group"}),
}

# member DN key -> the requested groups (as spelt in the configuration) it belongs to
Membership = dict[str, tuple[str, ...]]
Raw = Mapping[str, Sequence[bytes]]  # an entry's attributes: lower-case name -> raw values


@dataclass(frozen=True, slots=True)
class GroupQuery:
    """What the reader process is to find out: the requested groups, and how."""

    groups: tuple[str, ...]
    mode: Mode


def dn_key(dn: str) -> str:
    """A DN as the directory compares it: lower case, no spaces around `,` and `=`. The common DN
    (no escapes, no quotes) takes a short path; it runs once per person of every read."""
    if "\\" not in dn and '"' not in dn and "+" not in dn:
        return ",".join(_pair(part) for part in dn.lower().split(","))
    from ldap3.core.exceptions import LDAPInvalidDnError  # the rare DN: ldap3's parser
    from ldap3.utils.dn import parse_dn

    try:
        return ",".join(f"{name.lower()}={value.lower()}" for name, value, _ in parse_dn(dn))
    except LDAPInvalidDnError:
        return dn.lower().strip()


def _pair(part: str) -> str:
    name, _, value = part.partition("=")
    return f"{name.strip()}={value.strip()}"


def spellings(groups: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each requested group's DN key and its spellings (two spellings of one DN are both kept:
    the scope may name it one way and a role the other)."""
    found: dict[str, tuple[str, ...]] = {}
    for group in sorted(groups):
        key = dn_key(group)
        found[key] = (*found.get(key, ()), group)
    return found


def read_membership(conn: Session, endpoint: Endpoint, query: GroupQuery) -> Membership:
    """The membership map (empty for `exists`); raises StopRun naming a group that is missing."""
    entries = {group: _group_entry(conn, endpoint, group, query.mode) for group in query.groups}
    if query.mode == "exists":
        return {}
    if query.mode == "in_chain":
        members = {group: _in_chain(conn, group) for group in query.groups}
    else:
        graph = _group_graph(conn, endpoint, query.groups)
        for group, attributes in entries.items():  # a requested group outside both bases
            graph.setdefault(dn_key(group), _member_keys(attributes))
        members = {group: _nested(graph, dn_key(group)) for group in query.groups}
    membership: dict[str, set[str]] = {}
    for group, keys in members.items():
        for key in keys:
            membership.setdefault(key, set()).add(group)
    return {key: tuple(sorted(groups)) for key, groups in membership.items()}


def _group_entry(conn: Session, endpoint: Endpoint, group: str, mode: Mode) -> Raw:
    """The group's own entry (with its member values for `members`); a clear stop if it is
    missing, or (`members`, `in_chain`) if it is not a group of the kind the mode reads: a
    person's DN named by mistake would otherwise have no members, and everyone be out of scope."""
    where = f"{endpoint.url}: group {group}"
    attributes = ["objectClass", *(MEMBER_ATTRIBUTES if mode == "members" else ())]
    found = conn.base_entry(group, attributes, where)
    if found is None:
        # a server's access rules may hide an entry the bind DN may not read: say both
        raise StopRun(
            f"{where} does not exist (named in [tenants.scope] or [[tenants.roles]]), or "
            f"{endpoint.bind_dn or 'an anonymous bind'} may not read it; nobody is disabled"
        )
    classes = {v.decode("utf-8", "replace").lower() for v in found.get("objectclass", ())}
    expected = GROUP_CLASSES.get(mode)
    if expected and classes and classes.isdisjoint(expected):
        raise StopRun(
            f"{where} is not a group ({', '.join(sorted(expected))}): its object classes are "
            f"{', '.join(sorted(classes))}; nobody is disabled"
        )
    return found


def _in_chain(conn: Session, group: str) -> set[str]:
    search_filter = f"(memberOf:{IN_CHAIN}:={escape_filter_value(group)})"
    search = conn.search(search_filter, ["1.1"])  # 1.1: no attributes
    keys: set[str] = set()
    while not search.done:
        keys.update(dn_key(entry.dn) for entry in search.next_page())
    return keys


def _group_graph(conn: Session, endpoint: Endpoint, groups: Iterable[str]) -> dict[str, list[str]]:
    """Every group entry under `base_dn` and under the requested groups' parents: group DN key
    -> its members' DN keys. Nested groups are usually kept beside the groups that hold them."""
    graph: dict[str, list[str]] = {}
    for base in _bases([endpoint.base_dn, *(_parent(group) for group in groups)]):
        search = conn.search(GROUP_FILTER, list(MEMBER_ATTRIBUTES), base=base)
        while not search.done:
            for entry in search.next_page():
                graph[dn_key(entry.dn)] = _member_keys(entry.attributes)
    return graph


def _member_keys(attributes: Raw) -> list[str]:
    values = [*attributes.get("member", ()), *attributes.get("uniquemember", ())]
    # a uniqueMember may end in "#'0101'B" (an optional unique identifier): not part of the DN
    return [dn_key(v.decode("utf-8", "replace").split("#'")[0]) for v in values]


def _nested(graph: dict[str, list[str]], start: str) -> set[str]:
    """The members of `start` and of the groups within it (any depth, cycles harmless). A
    member that is a group counts as a member too: a group is never a person, so it is unused."""
    members: set[str] = set()
    pending, seen = [start], {start}
    while pending:
        for key in graph.get(pending.pop(), ()):
            members.add(key)
            if key in graph and key not in seen:
                seen.add(key)
                pending.append(key)
    return members


def _parent(dn: str) -> str:
    parts = dn_key(dn).split(",", 1)
    return parts[1] if len(parts) == 2 else dn


def _bases(candidates: Iterable[str]) -> list[str]:
    """The candidates without those inside another one (a subtree search covers them)."""
    keys = sorted({dn_key(c) for c in candidates if c}, key=len)
    kept: list[str] = []
    for key in keys:
        if not any(key == k or key.endswith("," + k) for k in kept):
            kept.append(key)
    return kept


class GroupsOf:
    """The parent's side: each person's requested groups, from the membership map by the entry's
    DN, or (`exists`) from the person's own attribute (memberOf, say) holding group DNs."""

    def __init__(self, groups: Iterable[str], attributes: Iterable[str] = ()) -> None:
        self.spellings = spellings(groups)
        self.attributes = tuple(a.lower() for a in attributes)
        self.membership: Membership = {}
        self._shared: dict[tuple[str, ...], frozenset[str]] = {(): frozenset()}

    def of(self, dn: str, raw: Raw) -> frozenset[str]:
        if not self.spellings:
            return frozenset()
        if not self.attributes:
            return self._frozen(self.membership.get(dn_key(dn), ()))
        found: list[str] = []
        for attribute in self.attributes:
            for value in raw.get(attribute, ()):
                found.extend(self.spellings.get(dn_key(value.decode("utf-8", "replace")), ()))
        return self._frozen(tuple(sorted(found)))

    def _frozen(self, groups: tuple[str, ...]) -> frozenset[str]:
        """One frozenset per combination of groups, shared by everyone who has it."""
        shared = self._shared.get(groups)
        if shared is None:
            shared = self._shared[groups] = frozenset(groups)
        return shared
