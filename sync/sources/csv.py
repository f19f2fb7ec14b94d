"""A CSV export as the directory (`kind = "csv"`): the embedded default.

UTF-8 with or without BOM, or CP932 for Japanese spreadsheet exports. A malformed row is reported
with its line number and the rest of the file is still read; a row whose id cannot be known makes
the read partial, so nobody is disabled for being absent from it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

from sync.errors import IncompleteRead, SourceUnavailable, UserIssue
from sync.model import DirectoryUser, IssueReason, user_from
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.settings import CsvSourceSettings

PAGE_SIZE = 1000
COUNT_PROBLEM = "\0count"  # a key no header can hold: where a row's field count is wrong
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}


class CsvSource:
    kind = "csv"

    def __init__(self, settings: CsvSourceSettings) -> None:
        self.settings = settings
        self.path = settings.path

    def read(self, request: ReadRequest) -> SourceRead:
        columns = {**{a: a for a in _needed(request)}, **self.settings.attributes}
        page: list[DirectoryUser] = []
        issues: list[UserIssue] = []
        every_row_known = True
        required = {columns[a] for a in request.required | {"source_id"}}
        for line, row in self._rows(required):
            outcome = _to_user(row, columns, request, line)
            if isinstance(outcome, DirectoryUser):
                page.append(outcome)
            else:
                issues.append(outcome)
                every_row_known &= not outcome.source_id.startswith("line ")
            if len(page) >= PAGE_SIZE:
                yield Page(tuple(page), tuple(issues))
                page, issues = [], []
        yield Page(tuple(page), tuple(issues))
        return ReadResult(full=every_row_known)

    def _rows(self, required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
        name = f"CSV file {self.path}"
        try:
            handle = self.path.open(encoding=self.settings.encoding, newline="")
        except FileNotFoundError:
            raise SourceUnavailable(f"{name} not found") from None
        except OSError as exc:
            raise SourceUnavailable(f"{name}: cannot open: {exc.strerror}") from None
        with handle:
            reader = csv.reader(handle, delimiter=self.settings.delimiter, strict=True)
            try:
                header = [h.strip() for h in next(reader, [])]
                if not any(header):
                    raise IncompleteRead(f"{name} is empty: it has no header row")
                absent = sorted(required - set(header))
                if absent:
                    raise IncompleteRead(f"{name}: the header has no column {absent}")
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue  # a blank line is no user
                    yield reader.line_num, _row_dict(header, values)
            except UnicodeDecodeError:
                line = _first_undecodable_line(self.path, self.settings.encoding)
                raise IncompleteRead(
                    f"{name} is not valid {self.settings.encoding} text at line {line}; "
                    "set the source's encoding (cp932 for Japanese spreadsheet exports)"
                ) from None
            except csv.Error as exc:
                raise IncompleteRead(f"{name}: line {reader.line_num}: {exc}") from None


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """The decoder reads ahead in chunks, so its error cannot say where: find the line again."""
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 1
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    return number  # the bytes that fail are an incomplete character at the very end


def _needed(request: ReadRequest) -> set[str]:
    return {"source_id", "active", *request.attributes}


def _row_dict(header: list[str], values: list[str]) -> dict[str, str]:
    row = dict(zip(header, values, strict=False))
    if len(values) != len(header):
        row[COUNT_PROBLEM] = f"{len(values)} fields where the header has {len(header)}"
    return row


def _to_user(
    row: dict[str, str], columns: dict[str, str], request: ReadRequest, line: int
) -> DirectoryUser | UserIssue:
    source_id = row.get(columns["source_id"], "").strip()
    where = f"line {line}"
    if COUNT_PROBLEM in row:
        return UserIssue(
            source_id or where, IssueReason.MISSING_ATTRIBUTE, f"{where}: {row[COUNT_PROBLEM]}"
        )
    if not source_id:
        return UserIssue(
            where, IssueReason.MISSING_ATTRIBUTE, f"source_id (column {columns['source_id']!r})"
        )
    active_text = row.get(columns.get("active", "active"), "").strip().lower()
    if active_text and active_text not in TRUE_WORDS | FALSE_WORDS:
        return UserIssue(
            source_id,
            IssueReason.MISSING_ATTRIBUTE,
            f"active: {active_text!r} at {where} is not true/false, 1/0 or yes/no",
        )

    def text(attribute: str) -> str | None:
        value = row.get(columns.get(attribute, attribute), "").strip()
        return value or None

    emails = tuple(e.strip() for e in (text("emails") or "").split(";") if e.strip())
    extra = tuple(
        sorted((f, row[f].strip()) for f in request.extra_fields if row.get(f, "").strip())
    )
    return user_from(source_id, active_text not in FALSE_WORDS, text, emails, extra)
