"""A CSV export's optional `start_date` and `end_date` columns (SPEC §16): YYYY-MM-DD; an
unreadable date or an end before the start is that row's issue, naming the column."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sync.sources.csv import CsvSource
from sync.sources.settings import CsvSourceSettings
from tests.support.reading import collect, request


def read(path: Path, text: str, **settings: object) -> tuple[dict[Any, Any], list[str]]:
    path.write_text(text, encoding="utf-8")
    source = CsvSource(CsvSourceSettings(kind="csv", path=path, **settings))  # type: ignore[arg-type]
    read = collect(source.read(request("primary_email")))
    assert read.result is not None and read.result.full
    dates = {u.source_id: (u.start_date, u.end_date) for u in read.users}
    return dates, [f"{i.source_id}: {i.detail}" for i in read.issues]


def test_dates_are_read_and_bad_ones_are_the_row_s_issue(tmp_path: Path) -> None:
    dates, issues = read(
        tmp_path / "u.csv",
        "source_id,primary_email,start_date,end_date\n"
        "1,a@x.example,2026-04-01,\n"
        "2,b@x.example,,2026-03-31\n"
        "3,c@x.example,2026/04/01,\n"
        "4,d@x.example,2026-04-01,2026-03-31\n"
        "5,e@x.example,2026-02-30,\n",
        max_bad_rows_percent=100,  # three bad rows of five: kept apart, not failing the file
    )
    assert dates == {"1": (date(2026, 4, 1), None), "2": (None, date(2026, 3, 31))}
    assert issues == [
        "3: line 4: start_date: '2026/04/01' is not a date (YYYY-MM-DD)",
        "4: line 5: end_date 2026-03-31 is before start_date 2026-04-01",
        "5: line 6: start_date: '2026-02-30' is not a date (YYYY-MM-DD)",
    ]


def test_an_export_without_date_columns_reads_as_before(tmp_path: Path) -> None:
    dates, issues = read(tmp_path / "u.csv", "source_id,primary_email\n1,a@x.example\n")
    assert dates == {"1": (None, None)} and issues == []


def test_date_columns_can_be_named_otherwise(tmp_path: Path) -> None:
    dates, _ = read(
        tmp_path / "u.csv",
        "source_id,primary_email,入社日\n1,a@x.example,2026-04-01\n",
        attributes={"start_date": "入社日"},
    )
    assert dates == {"1": (date(2026, 4, 1), None)}
