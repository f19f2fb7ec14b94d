"""The pure checks, one row per behaviour: password policy, memos, privileges, token verdicts,
and the mail settings that would put a line break into a header."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync.config.settings import load_settings
from sync.errors import ConfigError
from sync.services.policy import Refused, checked_role, clean_memo, password_problems
from sync.services.resets import TokenHolder, TokenRefused, token_verdict


@pytest.mark.parametrize(
    ("password", "name", "role", "problems"),
    [
        ("x", "taro", "none", []),  # SPEC §6 sets no rule for people without privilege
        ("TARO", "taro", "none", ["it must differ from the account name"]),
        ("ｔａｒｏ", "taro", "none", ["it must differ from the account name"]),
        ("", "taro", "none", ["the password is empty"]),
        ("pass\x00word", "taro", "none", ["it holds a control character"]),
        ("Abc123", "taro", "operator", []),
        ("Ａｂｃ１２３", "taro", "system_admin", []),  # full-width letters and digits count
        ("Abc12", "taro", "operator", ["lacks 6 characters"]),
        ("abc123", "taro", "custom_admin", ["lacks an upper-case letter"]),
        ("ABC123", "taro", "department_admin", ["lacks a lower-case letter"]),
        ("Abcdef", "taro", "system_admin", ["lacks a digit"]),
        ("Taro12", "TARO12", "operator", ["it must differ from the account name"]),
        ("x" * 1025 + "A1", "taro", "none", ["longer than 1024 characters"]),
    ],
)
def test_password_policy(password: str, name: str, role: str, problems: list[str]) -> None:
    found = password_problems(password, name, role)
    assert len(found) == len(problems), found
    assert all(expected in got for expected, got in zip(problems, found, strict=True))


@pytest.mark.parametrize(
    ("memo", "stored"),
    [
        ("", None),
        ("   ", None),
        ("一行目\n二行目\tタブ", "一行目\n二行目\tタブ"),
        ("emoji 👩‍💻 with a joiner", "emoji 👩‍💻 with a joiner"),
    ],
)
def test_memo_kept_as_typed(memo: str, stored: str | None) -> None:
    assert clean_memo(memo) == stored


@pytest.mark.parametrize(
    ("memo", "says"),
    [
        ("a\r\nBcc: x@example.net", "U+000D"),
        ("a\x85b", "U+0085"),
        ("a\u2028b", "U+2028"),
        ("a\u202eb", "U+202E"),
        ("x" * 4001, "at most 4000"),
    ],
)
def test_memo_refused(memo: str, says: str) -> None:
    with pytest.raises(Refused, match=re.escape(says)):
        clean_memo(memo)


@pytest.mark.parametrize(
    ("current", "role", "scheme", "result"),
    [
        (("none", None), "operator", None, ("operator", None)),
        (("custom_admin", "Help"), "system_admin", None, ("system_admin", None)),
        (("none", None), "custom_admin", " Help ", ("custom_admin", "Help")),
        (("custom_admin", "Help"), None, "Desk", ("custom_admin", "Desk")),
        (("custom_admin", "Help"), "custom_admin", None, ("custom_admin", "Help")),
        (("none", None), "custom_admin", None, "needs a permission scheme"),
        (("operator", None), None, "Desk", "only for custom_admin"),
        (("none", None), "custom_admin", "a\nb", "control character"),
        (("none", None), "owner", None, "unknown privilege"),
    ],
)
def test_privilege(
    current: tuple[str, str | None], role: str | None, scheme: str | None, result: Any
) -> None:
    if isinstance(result, str):
        with pytest.raises(Refused, match=result):
            checked_role(current, role, scheme)
    else:
        assert checked_role(current, role, scheme) == result


NOW = datetime(2026, 1, 1, tzinfo=UTC)
VALID = {
    "id": 1,
    "tenant_id": "acme",
    "account_id": 7,
    "name": "taro",
    "role": "none",
    "status": "active",
    "used_at": None,
    "revoked_at": None,
    "expires_at": NOW + timedelta(hours=1),
}


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, TokenHolder(1, "acme", 7, "taro", "none")),
        ({"expires_at": NOW.replace(tzinfo=None)}, TokenRefused("expired")),  # SQLite: naive UTC
        ({"revoked_at": NOW}, TokenRefused("superseded")),
        ({"status": "disabled", "revoked_at": NOW}, TokenRefused("disabled")),
        ({"used_at": NOW, "status": "disabled"}, TokenRefused("used")),
    ],
)
def test_token_verdict(changes: dict[str, Any], verdict: object) -> None:
    assert token_verdict({**VALID, **changes}, NOW) == verdict


@pytest.mark.parametrize(
    ("mail", "problem"),
    [
        ('username = "mailer"', "an SMTP login needs both"),
        ('password_env = "X"', "an SMTP login needs both"),
        ('from_address = "CLOMO <a@example.com>\\r\\nBcc: x@example.net"', "mail.from_address"),
        ('from_address = "nobody"', "mail.from_address"),
    ],
)
def test_mail_settings_refused(tmp_path: Path, mail: str, problem: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[mail]\n{mail}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    assert any(problem in p for p in raised.value.problems), raised.value.problems
