"""`config check` on a file full of mistakes: every one said in one round, in plain words."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import clomo

SECRET = "correct horse battery staple"
DB_PASSWORD = "hunter2"

MISTAKES = f"""
[database]
url = "postgresql+psycopg://sync:{DB_PASSWORD}@db.example.com:54x2/clomo"

[mail]
delivery = "smpt"
smtp_port = "twenty-five"
outbox_dirr = "out"
ca_file = "no-such-ca.pem"
username = "sync"
password_file = "secrets/smtp-password"

[[tenants]]
id = "acme"
schedul = "*/30 * * * *"
reset_url = "https://panel.example.com/r?token={{token}}"

[tenants.source]
kind = "ldap"
url = "http://ldap.example.com"
password_env = "{SECRET}"

[[tenants]]
id = "beta"
reset_url = "https://panel.example.com/r?token={{token}}"

[tenants.source]
kind = "ldpa"
"""


def test_every_mistake_of_file_and_environment_in_one_round(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "clomo-sync.toml"
    config.parent.mkdir()
    config.write_text(MISTAKES, encoding="utf-8")
    done = clomo(
        "--config",
        str(config),
        "config",
        "check",
        cwd=tmp_path,
        env={
            "CLOMO_SYNC_DATABSE__URL": "sqlite:///x.db",
            "CLOMO_SYNC_MAIL__CA_FILE": "",  # unsets the file's ca_file: no problem about it
            "CLOMO_SYNC_MAIL__MAX_ATTEMPTS": "lots",
            "CLOMO_SYNC_TENANTS__GHOST__SCHEDULE": "* * * * *",
        },
    )
    assert done.returncode == 2, done
    said = done.stderr.splitlines()
    f = f"configuration error: {config}"
    expected = [
        "configuration error: environment CLOMO_SYNC_DATABSE__URL: "
        "unknown key DATABSE; did you mean DATABASE?",
        "configuration error: environment CLOMO_SYNC_TENANTS__GHOST__SCHEDULE: "
        "no tenant 'ghost' to override; configured: acme, beta",
        "configuration error: environment CLOMO_SYNC_MAIL__MAX_ATTEMPTS: must be a whole number",
        f"{f}: tenants[acme].source.password_env: "
        "password_env must name an environment variable, not hold the secret itself",
        f"{f}: database.url: postgresql+psycopg://sync:***@db.example.com:54x2/clomo "
        "has a port that is not a number",
        f'{f}: mail.delivery: must be one of "file", "smtp"; did you mean "smtp"?',
        f"{f}: mail.smtp_port: must be a whole number",
        f"{f}: mail.outbox_dirr: unknown key; did you mean outbox_dir?",
        f"{f}: tenants[acme].schedul: unknown key; did you mean schedule?",
        f"{f}: tenants[acme].source.url: must be an ldap:// or ldaps:// URL",
        f"{f}: tenants[acme].source.base_dn: required key missing",
        f"{f}: tenants[beta].source.kind: "
        'must be one of "csv", "entra_id", "google_workspace", "ldap", "salesforce", '
        '"scim", "smarthr"; did you mean "ldap"?',
        # relative to the file's folder, not to the working directory
        f"{f}: mail.password_file: {config.parent}/secrets/smtp-password does not exist",
    ]
    assert sorted(said) == sorted(expected)
    assert SECRET not in done.stderr and DB_PASSWORD not in done.stderr
    assert done.stdout == ""


def one_csv_tenant(folder: Path, settings: str = "") -> Path:
    """A configuration file of tenant `acme` reading folder/users.csv, with `settings` added."""
    config = folder / "clomo-sync.toml"
    (folder / "users.csv").write_text("source_id,primary_email\n", encoding="utf-8")
    config.write_text(
        f"""
[[tenants]]
id = "acme"
reset_url = "https://panel.example.com/r?token={{token}}"
{settings}
[tenants.source]
kind = "csv"
path = "users.csv"
""",
        encoding="utf-8",
    )
    return config


def test_a_csv_export_that_is_not_there_is_a_configuration_error(tmp_path: Path) -> None:
    """SPEC §14: `config check` used to say OK for a CSV file that did not exist."""
    config = one_csv_tenant(tmp_path)
    config.write_text(config.read_text().replace("users.csv", "exports/users.csv"))
    done = clomo("--config", str(config), "config", "check", cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.strip() == (
        f"configuration error: {config}: tenants[acme].source.path: "
        f"{tmp_path}/exports/users.csv does not exist"
    )


def test_a_good_file_is_ok_with_a_singular_count(tmp_path: Path) -> None:
    config = one_csv_tenant(tmp_path)
    done = clomo("--config", str(config), "config", "check")
    assert (done.returncode, done.stdout.strip()) == (0, f"{config}: OK (1 tenant)"), done


def test_an_unknown_template_filter_names_the_key_the_template_and_the_filter(
    tmp_path: Path,
) -> None:
    config = one_csv_tenant(
        tmp_path,
        'account_name_source = "custom"\n'
        'custom_template = "{family_name_yomi|romaji}.{given_name_yomi|hepburn}"',
    )
    done = clomo("--config", str(config), "config", "check")
    assert done.returncode == 2, done
    assert done.stderr.splitlines() == [
        f"configuration error: {config}: tenants[acme].custom_template: custom_template "
        "'{family_name_yomi|romaji}.{given_name_yomi|hepburn}': {given_name_yomi|hepburn}: "
        "filter 'hepburn' is unknown; filters: romaji, romaji(passport), lower, upper, initial, "
        "ascii, truncate(N)"
    ]
