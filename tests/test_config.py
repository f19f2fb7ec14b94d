"""The configuration file: every problem at once, with file, key and reason (SPEC §8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.config.settings import load_settings
from sync.entry.cli import run as run_cli
from sync.errors import ConfigError

GOOD = """
[database]
url = "sqlite:///{dir}/s.db"

[[tenants]]
id = "acme"
account_name_source = "email"
reset_url = "https://panel.example.com/r?token={{token}}"

[tenants.source]
kind = "ldap"
url = "ldap://127.0.0.1:3890"
base_dn = "ou=people,dc=example,dc=com"
password_env = "ACME_LDAP_PASSWORD"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clomo-sync.toml"
    path.write_text(text.format(dir=tmp_path), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


def test_every_problem_is_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace(
            'account_name_source = "email"',
            'account_name_source = "phone"\ncolour = "blue"\n'
            'max_disable = -1\ntimezone = "Mars/Base"',
        ),
    )
    found = problems(path)
    assert len(found) == 4
    assert all(p.startswith(f"{path}: tenants[acme].") for p in found)
    joined = "\n".join(found)
    for key in ("account_name_source", "colour", "max_disable", "timezone"):
        assert f"tenants[acme].{key}:" in joined


def test_source_keys_are_checked_by_kind(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('url = "ldap://127.0.0.1:3890"', 'url = "http://x"'))
    assert problems(path) == [
        f"{path}: tenants[acme].source.url: must be an ldap:// or ldaps:// URL"
    ]


def test_custom_template_fields_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace(
            'account_name_source = "email"',
            'account_name_source = "custom"\ncustom_template = "{{surname}}.{{given_name}}"',
        ),
    )
    (problem,) = problems(path)
    assert "custom_template" in problem and "{surname}" in problem


def test_password_auth_needs_a_reset_url_with_token(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("?token={{token}}", ""))
    (problem,) = problems(path)
    assert "reset_url" in problem and "{token}" in problem


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[database\nurl=1")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: not valid TOML")


def test_environment_overrides_nested_keys_and_tenants_by_id(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    settings = load_settings(
        path,
        {
            "CLOMO_SYNC_DATABASE__URL": "sqlite:///other.db",
            "CLOMO_SYNC_MAIL__SMTP_PORT": "2525",
            "CLOMO_SYNC_TENANTS__ACME__SOURCE__PAGE_SIZE": "50",
            "CLOMO_SYNC_TENANTS__ACME__RESERVED_NAMES": '["admin", "root"]',
        },
    )
    assert settings.database.url == f"sqlite:///{Path.cwd()}/other.db"  # an override: from cwd
    assert settings.mail.smtp_port == 2525
    assert settings.tenants[0].source.page_size == 50  # type: ignore[union-attr]
    assert settings.tenants[0].reserved_names == ("admin", "root")


def test_environment_override_of_an_unknown_tenant_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (problem,) = problems(path, {"CLOMO_SYNC_TENANTS__GHOST__SCHEDULE": "* * * * *"})
    assert "CLOMO_SYNC_TENANTS__GHOST__SCHEDULE" in problem and "ghost" in problem


def test_config_check_exit_2_names_missing_secret_without_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.delenv("ACME_LDAP_PASSWORD", raising=False)
    assert run_cli(["--config", str(path), "config", "check"]) == 2
    assert "ACME_LDAP_PASSWORD is not set" in capsys.readouterr().err
    monkeypatch.setenv("ACME_LDAP_PASSWORD", "s3cret-value")
    assert run_cli(["--config", str(path), "config", "check"]) == 0
    out = capsys.readouterr()
    assert "OK" in out.out and "s3cret-value" not in out.out + out.err


def test_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--config", str(tmp_path / "none.toml"), "config", "check"]) == 2
    assert "none.toml: configuration file not found" in capsys.readouterr().err


def test_demo_configuration_is_valid() -> None:
    settings = load_settings(Path("config/demo.toml"), {})
    assert [t.id for t in settings.tenants] == ["demo"]


def test_an_empty_override_unsets_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + '\n[mail]\nca_file = "missing.pem"\nsmtp_port = 2525\n')
    settings = load_settings(
        path, {"CLOMO_SYNC_MAIL__CA_FILE": "", "CLOMO_SYNC_MAIL__SMTP_PORT": ""}
    )
    assert (settings.mail.ca_file, settings.mail.smtp_port) == (None, 25)


def test_an_empty_override_of_a_required_key_is_blamed_on_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, {"CLOMO_SYNC_TENANTS__ACME__SOURCE__BASE_DN": ""}) == [
        "environment CLOMO_SYNC_TENANTS__ACME__SOURCE__BASE_DN: required key missing"
    ]


def test_relative_paths_are_relative_to_the_files_folder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace('url = "sqlite:///{dir}/s.db"', 'url = "sqlite:///var/s.db"')
        + '\n[mail]\noutbox_dir = "../outbox"\n',
    )
    settings = load_settings(path, {"CLOMO_SYNC_TENANTS__ACME__TEMPLATES_DIR": "mine"})
    assert settings.database.url == f"sqlite:///{tmp_path}/var/s.db"
    assert settings.mail.outbox_dir == tmp_path.parent / "outbox"
    assert settings.tenants[0].templates_dir == Path.cwd() / "mine"  # an override: from cwd


def test_defaults_are_beside_the_file_too(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('url = "sqlite:///{dir}/s.db"', ""))
    settings = load_settings(path, {})
    assert settings.database.url == f"sqlite:///{tmp_path}/var/clomo-sync.db"
    assert settings.mail.outbox_dir == tmp_path / "var" / "outbox"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysqlx://u:pw@h/db", "mysqlx://u:***@h/db: unknown database kind or driver 'mysqlx'"),
        (
            "postgresql+nodriver://u:pw@h/db",
            "unknown database kind or driver 'postgresql+nodriver'",
        ),
        ("postgresql+psycopg://u:pw@h:port/db", "u:***@h:port/db has a port that is not a number"),
        ("postgresql+psycopg://u:pw@h:99999/db", "has port 99999, which is not between 1 and"),
        ("not a url", "not a url is not a database URL like sqlite:///var/clomo-sync.db"),
    ],
)
def test_a_bad_database_url_is_a_configuration_error_without_its_password(
    tmp_path: Path, url: str, said: str
) -> None:
    path = write(tmp_path, GOOD.replace('url = "sqlite:///{dir}/s.db"', f'url = "{url}"'))
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: database.url: ") and said in problem
    assert ":pw@" not in problem


@pytest.mark.parametrize(
    "value",
    ["s3cret value", "PASSWORD=s3cret", "Xk9mQ2vL8pR4", "A" * 65, "hunter2!"],
)
def test_a_secret_put_where_a_variable_name_belongs_is_refused_unseen(
    tmp_path: Path, value: str
) -> None:
    path = write(tmp_path, GOOD.replace('"ACME_LDAP_PASSWORD"', f'"{value}"'))
    (problem,) = problems(path)
    assert problem == (
        f"{path}: tenants[acme].source.password_env: "
        "password_env must name an environment variable, not hold the secret itself"
    )
    from_env = problems(
        write(tmp_path, GOOD), {"CLOMO_SYNC_TENANTS__ACME__SOURCE__PASSWORD_ENV": value}
    )
    assert from_env == [
        "environment CLOMO_SYNC_TENANTS__ACME__SOURCE__PASSWORD_ENV: "
        "password_env must name an environment variable, not hold the secret itself"
    ]


@pytest.mark.parametrize("name", ["ACME_LDAP_PASSWORD", "acme_ldap_password", "LDAP_PW_2"])
def test_ordinary_variable_names_are_accepted(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, GOOD.replace('"ACME_LDAP_PASSWORD"', f'"{name}"'))
    assert load_settings(path, {}).tenants[0].source.password_env == name  # type: ignore[union-attr]


def test_an_override_of_a_key_inside_a_source_is_checked_against_its_kind(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, {"CLOMO_SYNC_TENANTS__ACME__SOURCE__PAGESIZE": "5"}) == [
        "environment CLOMO_SYNC_TENANTS__ACME__SOURCE__PAGESIZE: "
        "unknown key PAGESIZE; did you mean PAGE_SIZE?"
    ]


def test_whole_tenant_checks_are_said_with_the_key_errors_in_one_round(tmp_path: Path) -> None:
    """pydantic skips a table's own checks while one of its keys is invalid; they still show."""
    path = write(
        tmp_path,
        GOOD.replace("?token={{token}}", "").replace(
            'account_name_source = "email"', 'account_name_source = "email"\ntimezone = "Mars/X"'
        ),
    )
    assert problems(path) == [
        f"{path}: tenants[acme].timezone: unknown time zone 'Mars/X'",
        f'{path}: tenants[acme]: auth_type = "password" needs a reset_url containing {{token}}',
    ]


def test_an_override_cannot_reach_into_a_list_of_values(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert problems(path, {"CLOMO_SYNC_TENANTS__ACME__RESERVED_NAMES__0": "x"}) == [
        "environment CLOMO_SYNC_TENANTS__ACME__RESERVED_NAMES__0: "
        'tenants[acme].reserved_names is a list: set it whole, like ["a", "b"]'
    ]


def test_scope_and_role_rules_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace(
            'account_name_source = "email"',
            'account_name_source = "email"\nscope = "Staff"\n'
            'roles = [{{ group = "Admins", role = "custom_admin" }},'
            ' {{ group = "X", role = "boss" }}]',
        ),
    )
    found = "\n".join(problems(path))
    assert "tenants[acme].scope: must be a table of keys and values" in found
    assert "permission_scheme goes with" in found
    assert "tenants[acme].roles[1].role: must be one of" in found
