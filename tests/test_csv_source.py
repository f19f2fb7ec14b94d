"""The CSV directory (`kind = "csv"`): encodings, malformed rows, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import IncompleteRead, StopRun
from sync.sources.base import Page, ReadRequest, ReadResult, drain
from sync.sources.csv import CsvSource
from sync.sources.settings import CsvSourceSettings

REQUEST = ReadRequest(
    frozenset({"primary_email", "employee_code", "emails", "display_name"}),
    required=frozenset({"primary_email"}),
)


HEADER = "source_id,primary_email,employee_code,emails,display_name"
# the columns REQUEST asks for besides source_id and primary_email, said to be absent
ABSENT = {"attributes": {"employee_code": "", "emails": "", "display_name": ""}}


def read(path: Path, **settings: object) -> tuple[list[Page], ReadResult]:
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
        "source_id,primary_email,employee_code,display_name,emails\n"
        "1,a@example.com,E1,山田 太郎,a@example.com; b@example.com\n".encode("utf-8-sig")
    )
    pages, result = read(path)
    (user,) = users(pages).values()
    assert user.display_name == "山田 太郎"  # type: ignore[attr-defined]
    assert user.emails == ("a@example.com", "b@example.com")  # type: ignore[attr-defined]
    assert result.full


def test_cp932_spreadsheet_export(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(
        "source_id,primary_email,employee_code,display_name,emails\r\n"
        "1,a@example.com,ＥＭＰ００１,髙橋 ①,\r\n".encode("cp932")
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
        (
            "source_id,employee_code,emails,display_name\n1,E1,,\n",
            "line 1: the header has no column 'primary_email'",
        ),
        (f'{HEADER}\n1,"unterminated\n', "line 2: a quoted field .* never closed"),
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
    pages, result = read(path, max_bad_rows_percent=60, **ABSENT)
    found = users(pages)
    assert sorted(found) == ["1", "5"] and found["5"].active is False  # type: ignore[attr-defined]
    issues = [(i.source_id, i.detail) for page in pages for i in page.issues]
    assert issues == [
        ("2", "line 3: active 'maybe' is not true/false, 1/0 or yes/no"),
        ("line 4", "line 4: no source_id (column 'source_id' is empty)"),
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
                "emails": "",
                "display_name": "",
            },
        )
    )
    pages = [p for p in drain(source.read(REQUEST)) if isinstance(p, Page)]
    (user,) = users(pages).values()
    assert (user.source_id, user.employee_code) == ("E1", "E1")  # type: ignore[attr-defined]


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "u.csv"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def fails(path: Path, **settings: object) -> str:
    with pytest.raises(IncompleteRead) as caught:
        read(path, **settings)
    return str(caught.value)


ROWS = "".join(f"{n},user{n}@example.com,E{n},,User {n}\n" for n in range(1, 6))


def test_a_file_cut_inside_a_row_fails_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROWS}6,user6@exa")
    assert fails(path) == (
        f"CSV file {path}, line 7: the file ends inside a row (2 of 5 fields and no final "
        "newline): the export looks cut off"
    )


def test_a_complete_last_row_needs_no_final_newline(tmp_path: Path) -> None:
    pages, result = read(write(tmp_path, f"{HEADER}\n{ROWS}6,u6@example.com,E6,,User 6"))
    assert len(users(pages)) == 6 and result.full


def test_a_short_row_with_its_newline_is_only_a_malformed_row(tmp_path: Path) -> None:
    pages, result = read(write(tmp_path, f"{HEADER}\n{ROWS * 2}6,user6@exa\n"))
    issues = [i.detail for p in pages for i in p.issues]
    assert issues == ["line 12: 2 fields where the header has 5"]
    assert result.full


def test_a_file_cut_inside_a_quoted_field_fails(tmp_path: Path) -> None:
    path = write(tmp_path, f'{HEADER}\n{ROWS}6,user6@example.com,E6,,"Yamada,\n Ta')
    message = fails(path)
    assert message.startswith(f"CSV file {path}, line 7: a quoted field that starts on this line")
    assert "the export looks cut off" in message


def test_a_file_cut_inside_a_utf8_character_fails(tmp_path: Path) -> None:
    content = f"{HEADER}\n{ROWS}6,user6@example.com,E6,,山田".encode()[:-1]
    path = write(tmp_path, content)
    assert fails(path) == (
        f"CSV file {path}, line 7: the file ends inside a utf-8-sig character: "
        "the export looks cut off"
    )


def test_a_header_only_file_is_a_complete_empty_directory(tmp_path: Path) -> None:
    pages, result = read(write(tmp_path, f"{HEADER}\n"))
    assert users(pages) == {} and result.full


@pytest.mark.parametrize(
    ("column", "near"),
    [("mail", "mail"), ("Primary Email", "Primary Email"), ("primary_mail", "primary_mail")],
)
def test_a_renamed_column_fails_with_the_near_name(tmp_path: Path, column: str, near: str) -> None:
    path = write(tmp_path, f"{HEADER.replace('primary_email', column)}\n{ROWS}")
    assert fails(path) == (
        f"CSV file {path}, line 1: the header has no column 'primary_email': did you mean "
        f'{near!r}? If so, set [tenants.source.attributes] primary_email = "{near}"'
    )


def test_a_dropped_column_fails_and_says_how_to_declare_it_absent(tmp_path: Path) -> None:
    path = write(tmp_path, "source_id,primary_email,employee_code\n1,a@example.com,E1\n")
    assert fails(path) == (
        f"CSV file {path}, line 1: the header has no columns 'display_name', 'emails'; "
        "if the file really holds no display_name, emails, set "
        '[tenants.source.attributes] display_name = "" (and so on): that field is then '
        "emptied on every account"
    )


def test_a_mapped_column_that_is_gone_fails(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER},given\n{ROWS.replace(chr(10), ',x' + chr(10))}")
    message = fails(path, attributes={"given_name": "名"})
    assert "the header has no column '名' (attributes.given_name)" in message


@pytest.mark.parametrize(("actual", "configured"), [(";", ","), ("\t", ","), (",", ";")])
def test_a_delimiter_mistake_says_which_delimiter(
    tmp_path: Path, actual: str, configured: str
) -> None:
    header = HEADER.replace(",", actual).replace("display_name", "display|name")
    path = write(tmp_path, f"{header}\n{ROWS.replace(',', actual)}")
    expected = {";": '";"', "\t": '"\\t"', ",": '","'}[actual]
    assert f"did you mean delimiter = {expected}?" in fails(path, delimiter=configured)


def test_a_byte_order_mark_read_as_utf8_names_the_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROWS}".encode("utf-8-sig"))
    assert fails(path, encoding="utf-8") == (
        f"CSV file {path}, line 1: the file starts with a byte-order mark: "
        'use encoding = "utf-8-sig"'
    )


def test_a_column_named_twice_fails(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER},primary_email\n{ROWS.replace(chr(10), ',x' + chr(10))}")
    assert "names column 'primary_email' 2 times" in fails(path)


def test_the_naming_attribute_cannot_be_declared_absent(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROWS}")
    assert "the naming rule needs primary_email" in fails(path, attributes={"primary_email": ""})


def test_source_id_must_name_a_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source_id must name a column"):
        CsvSourceSettings(kind="csv", path=tmp_path, attributes={"source_id": ""})


def test_a_lookup_match_field_must_be_in_the_header(tmp_path: Path) -> None:
    source = CsvSource(CsvSourceSettings(kind="csv", path=write(tmp_path, f"{HEADER}\n{ROWS}")))
    request = ReadRequest(REQUEST.attributes, frozenset({"fed_id"}))
    with pytest.raises(IncompleteRead, match="no column 'fed_id' \\(a lookup's match field\\)"):
        list(drain(source.read(request)))


def bad_rows(good: int, bad: int) -> str:
    rows = [f"{n},user{n}@example.com,E{n},,User {n}" for n in range(good)]
    rows[2:2] = [f"b{n},user@example.com,E,,x,too many" for n in range(bad)]
    return HEADER + "\n" + "\n".join(rows) + "\n"


def test_more_malformed_rows_than_the_bound_fail_the_read(tmp_path: Path) -> None:
    path = write(tmp_path, bad_rows(28, 12))
    assert fails(path) == (
        f"CSV file {path}: 12 of 40 rows (30 %) are malformed, more than max_bad_rows_percent "
        "= 10; first: line 4: 6 fields where the header has 5"
    )
    assert "(10.3 %)" in fails(write(tmp_path, bad_rows(148, 17)), max_bad_rows_percent=10)


def test_malformed_rows_up_to_the_bound_are_issues(tmp_path: Path) -> None:
    pages, result = read(write(tmp_path, bad_rows(36, 4)))  # exactly 10 %
    assert len(users(pages)) == 36 and len([i for p in pages for i in p.issues]) == 4
    assert result.full
    pages, _ = read(write(tmp_path, bad_rows(0, 5)), max_bad_rows_percent=100)
    assert users(pages) == {}


def test_a_file_of_only_malformed_rows_fails(tmp_path: Path) -> None:
    assert "3 of 3 rows (100 %) are malformed" in fails(write(tmp_path, bad_rows(0, 3)))


def test_active_may_be_absent_but_not_spelled_otherwise(tmp_path: Path) -> None:
    pages, _ = read(write(tmp_path, f"{HEADER}\n{ROWS}"))
    assert all(u.active for u in users(pages).values())  # type: ignore[attr-defined]
    path = write(tmp_path, f"{HEADER},Active\n{ROWS.replace(chr(10), ',no' + chr(10))}")
    assert fails(path) == (
        f"CSV file {path}, line 1: the header has no column 'active': did you mean 'Active'? "
        'If so, set [tenants.source.attributes] active = "Active"'
    )
    pages, _ = read(path, attributes={"active": "Active"})
    assert not any(u.active for u in users(pages).values())  # type: ignore[attr-defined]
    pages, _ = read(path, attributes={"active": ""})  # the administrator says: ignore it
    assert all(u.active for u in users(pages).values())  # type: ignore[attr-defined]


def test_a_file_cut_inside_its_header_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER[:-9])  # "…,emails,display_" and no newline
    message = fails(path)
    assert message.startswith(f"CSV file {path}, line 1: the header has no column 'display_name'")
    assert message.endswith("(the header line has no end: the file may be cut off)")
