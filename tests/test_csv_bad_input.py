"""A CSV export that is broken as a whole fails the run and changes nothing stored (issue 14,
SPEC §5.1 and §10): a header without a column the run reads, a file cut off, a delimiter or
byte-order-mark mistake, mostly malformed rows. Through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.support.configs import CSV_COLUMNS, person
from tests.support.snapshot import store_rows, without_run_records

PEOPLE = [person(n) for n in range(1, 6)]


def csv_text(users: list[dict[str, Any]], columns: tuple[str, ...] = CSV_COLUMNS) -> str:
    lines = [",".join(columns)] + [",".join(str(u[c]) for c in columns) for u in users]
    return "\n".join(lines) + "\n"


def synced(workspace: Workspace, **tenant: Any) -> dict[str, list[tuple[Any, ...]]]:
    """A first good run of the five people; the store as it then is."""
    workspace.configure(**tenant)
    assert workspace.sync()["status"] == "succeeded"
    workspace.cli("deliver", "--flush")
    return store_rows(workspace.database_url)


def fails_changing_nothing(workspace: Workspace, before: dict[str, Any]) -> str:
    """Syncs, checks the run failed with exit 1 and only its record was stored; its message."""
    emails = workspace.emails()
    report = workspace.sync()
    assert (report["status"], report["exit"]) == ("failed", 1), report
    after = store_rows(workspace.database_url)
    assert without_run_records(after) == without_run_records(before)
    (new_run,) = set(after["runs"]) - set(before["runs"])
    stored = json.loads(new_run[-1])
    assert (stored["status"], stored["error"]) == ("failed", report["error"])
    assert workspace.emails() == emails
    accounts = workspace.accounts()
    assert len(accounts) == 5 and {a["status"] for a in accounts.values()} == {"active"}
    return str(report["error"])


def test_a_dropped_address_column_erases_nobody(workspace: Workspace) -> None:
    """The case of the issue: named by employee code, the export lost primary_email."""
    before = synced(workspace, account_name_source="employee_code")
    columns = tuple(c for c in CSV_COLUMNS if c != "primary_email")
    workspace.csv.write_text(csv_text(PEOPLE, columns), encoding="utf-8")
    message = fails_changing_nothing(workspace, before)
    assert message.startswith(f"CSV file {workspace.csv}, line 1: the header has no column")
    assert "'primary_email'" in message
    assert {a["primary_email"] for a in workspace.accounts().values()} == {
        f"user{n}@example.com" for n in range(1, 6)
    }


@pytest.mark.parametrize("renamed", ["mail", "Primary Email"])
def test_a_renamed_column_fails_with_did_you_mean(workspace: Workspace, renamed: str) -> None:
    before = synced(workspace, account_name_source="employee_code")
    text = csv_text(PEOPLE).replace("primary_email", renamed, 1)
    workspace.csv.write_text(text, encoding="utf-8")
    assert fails_changing_nothing(workspace, before) == (
        f"CSV file {workspace.csv}, line 1: the header has no column 'primary_email': did you "
        f'mean {renamed!r}? If so, set [tenants.source.attributes] primary_email = "{renamed}"'
    )


def test_a_file_cut_inside_a_row_disables_nobody(workspace: Workspace) -> None:
    before = synced(workspace)
    text = csv_text(PEOPLE)
    workspace.csv.write_text(text[: text.index("u-00003") + 20], encoding="utf-8")
    message = fails_changing_nothing(workspace, before)
    assert message == (
        f"CSV file {workspace.csv}, line 4: the file ends inside a row (2 of 9 fields and no "
        "final newline): the export looks cut off"
    )


def test_a_file_cut_inside_a_quoted_field_disables_nobody(workspace: Workspace) -> None:
    before = synced(workspace)
    people = [*PEOPLE[:2], {**PEOPLE[2], "display_name": '"Yamada, Taro"'}, *PEOPLE[3:]]
    text = csv_text(people)
    workspace.csv.write_text(text[: text.index("Yamada") + 3], encoding="utf-8")
    message = fails_changing_nothing(workspace, before)
    assert message.startswith(
        f"CSV file {workspace.csv}, line 4: a quoted field that starts on this line is never "
        "closed before the end of the file"
    )


def test_a_file_cut_inside_a_character_disables_nobody(workspace: Workspace) -> None:
    before = synced(workspace)
    people = [*PEOPLE[:3], {**PEOPLE[3], "display_name": "山田 太郎"}, PEOPLE[4]]
    data = csv_text(people).encode("utf-8")
    workspace.csv.write_bytes(data[: data.index("太".encode()) + 2])
    assert fails_changing_nothing(workspace, before) == (
        f"CSV file {workspace.csv}, line 5: the file ends inside a utf-8-sig character: "
        "the export looks cut off"
    )


def test_a_header_only_file_is_an_empty_directory_and_blocks(workspace: Workspace) -> None:
    synced(workspace)
    workspace.csv.write_text(",".join(CSV_COLUMNS) + "\n", encoding="utf-8")
    report = workspace.sync()
    assert (report["status"], report["exit"]) == ("blocked", 3), report
    assert report["full"] is True and report["source"]["users_read"] == 0
    assert "the source returned no users while 5 accounts are active" in report["error"]
    assert {a["status"] for a in workspace.accounts().values()} == {"active"}


@pytest.mark.parametrize(("delimiter", "shown"), [(";", '";"'), ("\t", '"\\t"')])
def test_a_delimiter_mistake_says_which(workspace: Workspace, delimiter: str, shown: str) -> None:
    before = synced(workspace)
    workspace.csv.write_text(csv_text(PEOPLE).replace(",", delimiter), encoding="utf-8")
    message = fails_changing_nothing(workspace, before)
    assert message.startswith(f"CSV file {workspace.csv}, line 1: the header reads as one column")
    assert message.endswith(f'with delimiter = ",": did you mean delimiter = {shown}?')


def test_a_byte_order_mark_read_as_utf8_names_the_encoding(workspace: Workspace) -> None:
    before = synced(
        workspace, source={"kind": "csv", "path": str(workspace.csv), "encoding": "utf-8"}
    )
    workspace.csv.write_text(csv_text(PEOPLE), encoding="utf-8-sig")
    assert fails_changing_nothing(workspace, before) == (
        f"CSV file {workspace.csv}, line 1: the file starts with a byte-order mark: "
        'use encoding = "utf-8-sig"'
    )


def with_bad_rows(good: int, bad: int) -> str:
    """`good` people, then `bad` rows with a field too many, from the people's third row on."""
    lines = csv_text([person(n) for n in range(1, good + 1)]).splitlines()
    lines[3:3] = [csv_text([person(100 + n)]).splitlines()[1] + ",extra" for n in range(bad)]
    return "\n".join(lines) + "\n"


def test_mostly_malformed_rows_fail_the_run(workspace: Workspace) -> None:
    before = synced(workspace, max_disable=100)
    workspace.csv.write_text(with_bad_rows(28, 12), encoding="utf-8")
    assert fails_changing_nothing(workspace, before) == (
        f"CSV file {workspace.csv}: 12 of 40 rows (30 %) are malformed, more than "
        "max_bad_rows_percent = 10; first: line 4: 10 fields where the header has 9"
    )


def test_a_file_of_only_malformed_rows_fails(workspace: Workspace) -> None:
    before = synced(workspace)
    workspace.csv.write_text(with_bad_rows(0, 5), encoding="utf-8")
    assert fails_changing_nothing(workspace, before) == (
        f"CSV file {workspace.csv}: 5 of 5 rows (100 %) are malformed, more than "
        "max_bad_rows_percent = 10; first: line 2: 10 fields where the header has 9"
    )


def test_malformed_rows_within_the_bound_are_issues(workspace: Workspace) -> None:
    synced(workspace)
    source = {"kind": "csv", "path": str(workspace.csv), "max_bad_rows_percent": 50}
    workspace.configure(source=source)
    workspace.csv.write_text(with_bad_rows(5, 3), encoding="utf-8")
    report = workspace.sync()
    assert (report["status"], report["exit"]) == ("succeeded", 0), report
    assert [(i["source_id"], i["detail"]) for i in report["issues"]] == [
        (f"u-{100 + n:05d}", f"line {4 + n}: 10 fields where the header has 9") for n in range(3)
    ]
    assert report["counts"]["unchanged"] == 5


WORKER = (sys.executable, "-m", "sync", "--config")
EXPORTER = """
import sys, time
data = sys.stdin.buffer.read()
with open(sys.argv[1], "wb") as out:
    for start in range(0, 3 * 4096, 4096):  # three blocks of the export, then a hang
        out.write(data[start : start + 4096])
        out.flush()
    print("written", flush=True)
    time.sleep(600)
"""


def test_an_export_killed_while_writing_fails_the_run_in_a_real_process(
    workspace: Workspace,
) -> None:
    """The exporter is killed with SIGKILL after three blocks; the worker, its own process,
    reads what it left and disables none of the people after the cut."""
    people = [person(n) for n in range(1, 501)]
    workspace.configure(max_disable=1000)
    workspace.users(people)
    assert workspace.sync()["counts"]["created"] == 500
    before = store_rows(workspace.database_url)
    exporter = subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(workspace.csv)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert exporter.stdin is not None and exporter.stdout is not None
    exporter.stdin.write(csv_text(people).encode())
    exporter.stdin.close()
    assert exporter.stdout.readline() == b"written\n"
    exporter.send_signal(signal.SIGKILL)
    exporter.wait()
    assert workspace.csv.stat().st_size == 3 * 4096 and not workspace.csv.read_bytes().endswith(
        b"\n"
    )

    worker = subprocess.run(
        [*WORKER, str(workspace.config), "sync", "--tenant", "acme", "--json"],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 1, worker.stderr
    report = json.loads(worker.stdout)
    last_line = workspace.csv.read_text(encoding="utf-8").count("\n") + 1
    assert report["error"].startswith(f"CSV file {workspace.csv}, line {last_line}: the file ")
    assert "the export looks cut off" in report["error"]
    after = store_rows(workspace.database_url)
    assert without_run_records(after) == without_run_records(before)
    assert len(after["runs"]) == len(before["runs"]) + 1
    assert {a["status"] for a in workspace.accounts().values()} == {"active"}
