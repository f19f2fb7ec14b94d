"""OpenLDAP and Active Directory as data (STYLE.md 3): a preset each, chosen by `dialect`.

A preset says where each directory attribute lives, which attribute is the immutable id and how it
is encoded, which server-maintained timestamp drives delta reads, and how a disabled account shows.
A tenant's `[tenants.source.attributes]` table overrides the attribute places of either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# How an attribute's raw bytes become a value (see sync.sources.ldap.values).
Decoder = Literal["text", "uuid", "guid", "time", "smtp_proxy"]


@dataclass(frozen=True, slots=True)
class DisabledFlag:
    """How an entry says its account is disabled.

    With `bit` set, the attribute is an integer and the account is disabled when the bit is set
    (AD's userAccountControl); without it, the attribute's mere presence disables (a lock time).
    """

    attribute: str
    bit: int | None = None


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    user_filter: str
    # directory attribute -> LDAP attributes; for single values the first one present wins, for
    # `emails` the values of all of them are collected
    places: Mapping[str, tuple[str, ...]]
    # server-maintained time of the last change: delta filter and watermark (never our clock)
    changed_attribute: str
    # how a watermark is written into a delta filter
    filter_time_format: str
    disabled: DisabledFlag
    # LDAP attribute (lower case) -> decoder; anything not listed is UTF-8 text
    decoders: Mapping[str, Decoder]
    # an account-expiry time as a FILETIME (AD's accountExpires): past it, the account is inactive
    expires_attribute: str | None = None
    # the sign-in name that per-person issues show besides the DN (AD's sAMAccountName)
    account_name_attribute: str | None = None
    # first RDNs of the directory's own partitions that a search of the domain root is referred
    # to and that hold no people: those continuation references are not an incomplete read
    own_partitions: tuple[str, ...] = ()
    # the attribute a filter matches an entry's DN with, for reading one person by DN
    # (SPEC §18): OpenLDAP's operational entryDN (RFC 5020), AD's distinguishedName
    dn_attribute: str = "entryDN"


# Timestamps both servers keep; any attribute named here reads as a time wherever it is mapped.
_TIME_DECODERS: dict[str, Decoder] = {
    "modifytimestamp": "time",
    "createtimestamp": "time",
    "whenchanged": "time",
    "whencreated": "time",
    "pwdaccountlockedtime": "time",
}

OPENLDAP = Dialect(
    name="openldap",
    user_filter="(objectClass=inetOrgPerson)",
    places=MappingProxyType(
        {
            "source_id": ("entryUUID",),
            "primary_email": ("mail",),
            "emails": (),
            "employee_code": ("employeeNumber",),
            "given_name": ("givenName",),
            "family_name": ("sn",),
            "display_name": ("displayName", "cn"),
            "updated_at": ("modifyTimestamp",),
        }
    ),
    changed_attribute="modifyTimestamp",
    filter_time_format="%Y%m%d%H%M%SZ",
    # the ppolicy overlay's lock; "000001010000Z" is an administrator's lock, any other value a
    # lockout after failed binds: both mean the person cannot sign in to the directory now
    disabled=DisabledFlag("pwdAccountLockedTime"),
    decoders=MappingProxyType({**_TIME_DECODERS, "entryuuid": "uuid"}),
)

# Active Directory: https://learn.microsoft.com/en-us/windows/win32/adschema/attributes-all
ACTIVE_DIRECTORY = Dialect(
    name="active_directory",
    # objectClass=user alone also matches computer accounts (computer is a subclass of user)
    user_filter="(&(objectCategory=person)(objectClass=user))",
    places=MappingProxyType(
        {
            "source_id": ("objectGUID",),
            "primary_email": ("mail",),
            # Exchange keeps every address in proxyAddresses as "SMTP:primary" / "smtp:alias";
            # the UPN is the sign-in name, often an address of its own
            "emails": ("proxyAddresses", "userPrincipalName"),
            "employee_code": ("employeeID",),
            "given_name": ("givenName",),
            "family_name": ("sn",),
            "display_name": ("displayName", "cn"),
            "updated_at": ("whenChanged",),
            # the readings Japanese AD holds (ヤマダ, タロウ): a name template's romaji input
            "family_name_yomi": ("msDS-PhoneticLastName",),
            "given_name_yomi": ("msDS-PhoneticFirstName",),
        }
    ),
    # whenChanged is kept per domain controller (not replicated): point `url` at one DC
    changed_attribute="whenChanged",
    filter_time_format="%Y%m%d%H%M%S.0Z",
    # ACCOUNTDISABLE = 0x0002:
    # https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/useraccountcontrol-manipulate-account-properties
    disabled=DisabledFlag("userAccountControl", bit=0x0002),
    decoders=MappingProxyType(
        {**_TIME_DECODERS, "objectguid": "guid", "proxyaddresses": "smtp_proxy"}
    ),
    # https://learn.microsoft.com/en-us/windows/win32/adschema/a-accountexpires
    expires_attribute="accountExpires",
    account_name_attribute="sAMAccountName",
    # a DC answers a search of the domain root with continuation references to the application
    # partitions for DNS and to the configuration partition (docs/ldap.md, "Referrals")
    own_partitions=("dc=domaindnszones", "dc=forestdnszones", "cn=configuration"),
    dn_attribute="distinguishedName",
)

DIALECTS: Mapping[str, Dialect] = MappingProxyType(
    {dialect.name: dialect for dialect in (OPENLDAP, ACTIVE_DIRECTORY)}
)


def places_for(dialect: Dialect, overrides: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The dialect's places with the tenant's overrides: an override replaces the whole list."""
    places = dict(dialect.places)
    for attribute, ldap_attribute in overrides.items():
        places[attribute] = tuple(a.strip() for a in ldap_attribute.split(",") if a.strip())
    return places
