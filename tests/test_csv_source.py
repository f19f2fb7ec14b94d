"""The CSV directory (`kind = "csv"`): encodings, malformed rows, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import StopRun
from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.csv import CsvSource
from sync.sources.settings import CsvSourceSettings

REQUEST = ReadRequest(
    frozenset({"primary_email", "employee_code", "emails", "display_name"}),
    required=frozenset({"primary_email"}),
)


def read(path: Path, **settings: str) -> tuple[list[Page], ReadResult]:
    source = CsvSource(CsvSourceSettings(kind="csv", path=path, **settings))  # type: ignore[arg-type]
    items = list(drain(source.read(REQUEST)))
    result = items.pop()
    assert isinstance(result, ReadResult)
    return items, result  # type: ignore[return-value]


def users(pages: list[Page]) -> dict[str, object]:
    return {u.source_id: u for page in pages for u in page.users}


def test_utf8_with_bom_and_japanese(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(
        "source_id,primary_email,display_name,emails\n"
        "1,a@example.com,山田 太郎,a@example.com; b@example.com\n".encode("utf-8-sig")
    )
    pages, result = read(path)
    (user,) = users(pages).values()
    assert user.display_name == "山田 太郎"  # type: ignore[attr-defined]
    assert user.emails == ("a@example.com", "b@example.com")  # type: ignore[attr-defined]
    assert result.full


def test_cp932_spreadsheet_export(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(
        "source_id,primary_email,employee_code,display_name\r\n"
        "1,a@example.com,ＥＭＰ００１,髙橋 ①\r\n".encode("cp932")
    )
    pages, _ = read(path, encoding="cp932")
    assert users(pages)["1"].display_name == "髙橋 ①"  # type: ignore[attr-defined]


def test_wrong_encoding_stops_the_run_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes("source_id,primary_email\n1,山田@example.com\n".encode("cp932"))
    with pytest.raises(StopRun, match=r"u\.csv is not valid utf-8-sig text at line 2"):
        read(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "is empty"),
        ("source_id,employee_code\n1,E1\n", "has no column \\['primary_email'\\]"),
        ('source_id,primary_email\n1,"unterminated\n', "line"),
    ],
)
def test_bad_files_stop_the_run(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "u.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(StopRun, match=message):
        read(path)


def test_malformed_rows_are_reported_by_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "source_id,primary_email,active\n"
        "1,a@example.com,true\n"
        "2,b@example.com,maybe\n"
        ",c@example.com,true\n"
        "4,d@example.com,true,extra\n"
        "\n"
        "5,e@example.com,no\n",
        encoding="utf-8",
    )
    pages, result = read(path)
    found = users(pages)
    assert sorted(found) == ["1", "5"] and found["5"].active is False  # type: ignore[attr-defined]
    issues = [(i.source_id, i.detail) for page in pages for i in page.issues]
    assert issues == [
        ("2", "active: 'maybe' at line 3 is not true/false, 1/0 or yes/no"),
        ("line 4", "source_id (column 'source_id')"),
        ("4", "line 5: 4 fields where the header has 3"),
    ]
    # a row whose id is unknown may be anybody's: this read cannot prove anyone is gone
    assert result.full is False


def test_column_map_and_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("社員番号;メール\nE1;a@example.com\n", encoding="utf-8")
    source = CsvSource(
        CsvSourceSettings(
            kind="csv",
            path=path,
            delimiter=";",
            attributes={
                "source_id": "社員番号",
                "primary_email": "メール",
                "employee_code": "社員番号",
            },
        )
    )
    pages = [p for p in drain(source.read(REQUEST)) if isinstance(p, Page)]
    (user,) = users(pages).values()
    assert (user.source_id, user.employee_code) == ("E1", "E1")  # type: ignore[attr-defined]
