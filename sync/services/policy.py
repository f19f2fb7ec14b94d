"""Pure checks of what an administrator asks for: privileges, memos and passwords (SPEC §1, §6).

No database and no clock: values in, a cleaned value or a `Refused` out.
"""

from __future__ import annotations

import unicodedata

from sync.compose.normalize import name_key, normalize_text
from sync.errors import UsageError

ROLES = ("none", "system_admin", "department_admin", "operator", "custom_admin")
MIN_ADMIN_PASSWORD = 6
MAX_PASSWORD = 1024  # argon2 takes anything; this only bounds the work one request can cause
MAX_MEMO = 4000
MAX_SCHEME = 256
# a memo may hold line feeds and tabs; a carriage return, any other C0/C1 control, the Unicode
# line and paragraph separators and the bidirectional overrides (which disguise text) may not
MEMO_ALLOWED_CONTROLS = {"\n", "\t"}
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class Refused(UsageError):
    """The request is refused as a whole; nothing was changed. The message says why."""


def checked_role(
    current: tuple[str, str | None], role: str | None, scheme: str | None
) -> tuple[str, str | None]:
    """The (role, scheme) an edit leaves: `custom_admin` needs a permission scheme (given now or
    already held), every other role has none."""
    old_role, old_scheme = current
    new_role = role or old_role
    if new_role not in ROLES:
        raise Refused(f"unknown privilege {new_role!r} (one of {', '.join(ROLES)})")
    if new_role != "custom_admin":
        if scheme is not None:
            raise Refused(f"--scheme is only for custom_admin, not for {new_role}")
        return new_role, None
    if scheme is None:
        scheme = old_scheme if old_role == "custom_admin" else None
        if scheme is None:
            raise Refused("custom_admin needs a permission scheme: give --scheme NAME")
        return new_role, scheme
    return new_role, _scheme_name(scheme)


def _scheme_name(value: str) -> str:
    name = normalize_text(value)
    if not name:
        raise Refused("the permission scheme name is empty")
    if len(name) > MAX_SCHEME or _controls(name, set()):
        raise Refused(
            f"the permission scheme name {value!r} is longer than {MAX_SCHEME} characters "
            "or holds a control character"
        )
    return name


def clean_memo(value: str) -> str | None:
    """The memo to store: free text of up to MAX_MEMO characters with line feeds and tabs; an
    empty memo clears it. Anything else that could break a line or disguise text is refused
    rather than silently changed, so what is stored is exactly what the administrator typed."""
    if not value.strip():
        return None
    bad = _controls(value, MEMO_ALLOWED_CONTROLS)
    if bad:
        where = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        raise Refused(
            f"the memo holds a control character ({where}); only line feeds and tabs are allowed"
        )
    if len(value) > MAX_MEMO:
        raise Refused(f"the memo is {len(value)} characters long; at most {MAX_MEMO} are kept")
    return value


def password_problems(password: str, account_name: str, role: str) -> list[str]:
    """What is wrong with a password for this account (empty when it is acceptable).

    Every password differs from the account name, compared as names are (NFKC, case-insensitive);
    an administrator's (any privilege but none) also has at least six characters with an
    upper-case letter, a lower-case letter and a digit (SPEC §6). Messages never quote it."""
    if not password:
        return ["the password is empty"]
    problems = []
    if len(password) > MAX_PASSWORD:
        problems.append(f"it is longer than {MAX_PASSWORD} characters")
    if _controls(password, set()):
        problems.append("it holds a control character")
    if name_key(normalize_text(password) or "") == name_key(normalize_text(account_name) or ""):
        problems.append("it must differ from the account name")
    if role != "none":
        problems += _admin_problems(password)
    return problems


def _admin_problems(password: str) -> list[str]:
    lacking = [] if len(password) >= MIN_ADMIN_PASSWORD else [f"{MIN_ADMIN_PASSWORD} characters"]
    for test, what in (
        (str.isupper, "an upper-case letter"),
        (str.islower, "a lower-case letter"),
        (str.isdecimal, "a digit"),
    ):
        if not any(test(ch) for ch in password):
            lacking.append(what)
    if not lacking:
        return []
    return [
        f"an administrator's password has at least {MIN_ADMIN_PASSWORD} characters with an "
        "upper-case letter, a lower-case letter and a digit; it lacks " + ", ".join(lacking)
    ]


def _controls(text: str, allowed: set[str]) -> list[str]:
    """The characters of `text` that are controls (Cc), line or paragraph separators, or
    bidirectional overrides, in order of appearance, without repeats."""
    found = [
        ch
        for ch in text
        if ch not in allowed
        and (unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS)
    ]
    return list(dict.fromkeys(found))
