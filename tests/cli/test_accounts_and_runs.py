"""`accounts list` and `runs list` as an administrator reads them, and unknown tenants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import clomo
from tests.support.configs import person, write_config, write_users


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tenant acme synced once: five people (one inactive, one administrator), SQLite."""
    root = tmp_path_factory.mktemp("cli")
    people = [person(n) for n in range(1, 5)] + [person(5, active="false", display_name="Ex")]
    people[1]["display_name"] = "Hanako Yamada"
    write_users(root / "users.csv", people[:4])
    tenant = {
        "id": "acme",
        "account_name_source": "email_local_part",
        "reset_url": "https://panel.example.com/reset?token={token}",
        "source": {"kind": "csv", "path": "users.csv"},
    }
    path = write_config(root / "clomo-sync.toml", "sqlite:///store.db", root / "outbox", [tenant])
    assert clomo("--config", str(path), "sync", "--all").returncode == 0
    write_users(root / "users.csv", people[:3])  # user4 leaves: disabled
    assert clomo("--config", str(path), "sync", "--all").returncode == 0
    done = clomo(
        "--config", str(path), "accounts", "edit", "--tenant", "acme", "user1", "--role", "operator"
    )
    assert done.returncode == 0, done.stderr
    return path


def lines(done: object) -> list[str]:
    return done.stdout.splitlines()  # type: ignore[attr-defined, no-any-return]


def test_accounts_list_has_a_header_and_a_count(config: Path) -> None:
    done = clomo("--config", str(config), "accounts", "list", "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    out = lines(done)
    assert out[0].split() == ["NAME", "STATUS", "ROLE", "EMAIL"]
    assert [line.split()[0] for line in out[1:-1]] == ["user1", "user2", "user3", "user4"]
    assert out[-1] == "4 accounts"


@pytest.mark.parametrize(
    ("options", "names", "count"),
    [
        (["--status", "disabled"], ["user4"], "1 account (of 4)"),
        (["--status", "active", "--role", "operator"], ["user1"], "1 account (of 4)"),
        (["--search", "YAMADA"], ["user2"], "1 account (of 4)"),  # display name, any case
        (["--search", "user3@EXAMPLE"], ["user3"], "1 account (of 4)"),  # an address
        (["--search", "nobody"], [], "0 accounts (of 4)"),
    ],
)
def test_accounts_list_filters(
    config: Path, options: list[str], names: list[str], count: str
) -> None:
    args = ("--config", str(config), "accounts", "list", "--tenant", "acme", *options)
    text = lines(clomo(*args))
    assert [line.split()[0] for line in text[1:-1]] == names and text[-1] == count
    shown = json.loads(clomo(*args, "--json").stdout)
    assert [a["name"] for a in shown] == names


def test_runs_list_has_a_header(config: Path) -> None:
    out = lines(clomo("--config", str(config), "runs", "list", "--tenant", "acme"))
    assert out[0].split() == ["RUN", "STARTED", "TENANT", "STATUS", "COUNTS"]
    assert [line.split()[3] for line in out[1:3]] == ["succeeded", "succeeded"]
    assert all(len(line.split()[0]) == 8 for line in out[1:3])  # the short id (SPEC §14)
    assert "disabled=1" in out[1] and "created=4" in out[2]
    assert out[3] == "2 runs"


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--tenant", "nosuch"],
        ["sync", "--tenant", "acme", "--tenant", "nosuch", "--dry-run"],
        ["accounts", "list", "--tenant", "nosuch"],
        ["accounts", "show", "--tenant", "nosuch", "user1"],
        ["accounts", "edit", "--tenant", "nosuch", "user1", "--memo", "x"],
        ["accounts", "set-password", "--tenant", "nosuch", "user1", "--password-stdin"],
        ["accounts", "reset-password", "--tenant", "nosuch", "user1"],
        ["runs", "list", "--tenant", "nosuch"],
    ],
)
def test_an_unknown_tenant_exits_2_naming_the_configured_ones(
    config: Path, args: list[str]
) -> None:
    done = clomo("--config", str(config), *args)
    assert done.returncode == 2, done
    assert done.stderr.strip() == "error: unknown tenant 'nosuch'; configured: acme"


def test_account_names_typed_in_full_width_find_the_account(config: Path) -> None:
    def run(*args: str) -> str:
        done = clomo("--config", str(config), *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = json.loads(run("accounts", "show", "--tenant", "acme", "ＵＳＥＲ３", "--json"))
    assert shown["name"] == "user3"
    assert run("accounts", "edit", "--tenant", "acme", "ｕｓｅｒ３", "--memo", "wide").startswith(
        "acme: user3: "
    )
    assert "memo" in run("accounts", "history", "--tenant", "acme", "ｕｓｅｒ３")
    said = run("accounts", "reset-password", "--tenant", "acme", "Ｕｓｅｒ３")
    assert said.startswith("acme: reset link for user3 to user3@example.com")
