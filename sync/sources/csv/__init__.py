"""A CSV export as the directory (`kind = "csv"`): the embedded default.

UTF-8 with or without BOM, or CP932 for Japanese spreadsheet exports. A file that is broken as a
whole fails the read (SPEC §5.1, §10): a header without a column the run asks for, a file cut
off inside a row, a quoted field or a character, or more than `max_bad_rows_percent` of its rows
malformed. A malformed row under that bound is reported with its line number and the rest of the
file is still read; a row whose id cannot be known makes the read partial, so nobody is disabled
for being absent from it.
"""

from __future__ import annotations

from sync.errors import IncompleteRead
from sync.model import DirectoryUser
from sync.sources.base import Page, ReadRequest, ReadResult, SourceRead
from sync.sources.csv.header import check_header, spelled_otherwise
from sync.sources.csv.lines import CsvFile
from sync.sources.csv.rows import Malformed, RowLayout
from sync.sources.settings import CsvSourceSettings

__all__ = ["CsvSource"]

PAGE_SIZE = 1000


class CsvSource:
    kind = "csv"

    def __init__(self, settings: CsvSourceSettings) -> None:
        self.settings = settings
        self.path = settings.path

    def read(self, request: ReadRequest) -> SourceRead:
        asked = {"source_id", "active", *request.attributes, *request.required}
        if request.groups:
            asked.add("groups")
        columns = {**{a: a for a in asked}, **self.settings.attributes}
        file = CsvFile(self.path, self.settings.encoding, self.settings.delimiter)
        try:
            header, header_ended = file.header()
            wanted = self._wanted(columns, request)
            if "active" not in self.settings.attributes and spelled_otherwise("active", header):
                wanted["active"] = "active"  # optional, but `Active` is no column to ignore
            fields = request.extra_fields
            check_header(header, wanted, fields, self.settings.delimiter, file.name, header_ended)
            layout = RowLayout(header, columns, request.extra_fields, request.groups)
            tally = _Tally()
            page: list[DirectoryUser] = []
            issues = []
            for line, values in file.rows(len(header)):
                outcome = layout.to_user(values, line)
                tally.count(outcome)
                if isinstance(outcome, Malformed):
                    issues.append(outcome.issue())
                else:
                    page.append(outcome)
                if len(page) >= PAGE_SIZE:
                    yield Page(tuple(page), tuple(issues))
                    page, issues = [], []
        finally:
            file.close()
        tally.check(self.settings.max_bad_rows_percent, file.name)
        yield Page(tuple(page), tuple(issues))
        return ReadResult(full=tally.every_id_known)

    def _wanted(self, columns: dict[str, str], request: ReadRequest) -> dict[str, str]:
        """Attribute -> the header name it must find.

        Every attribute the run asks for and every column the administrator mapped; `active`
        only when mapped (an export of current staff has none); an attribute mapped to "" is
        one the administrator says this export does not hold.
        """
        mapped = self.settings.attributes
        wanted = {a: c for a, c in columns.items() if c and (a != "active" or a in mapped)}
        for attribute in request.required:
            if not columns[attribute]:
                raise IncompleteRead(
                    f"CSV file {self.path}: the naming rule needs {attribute}, but "
                    f'[tenants.source.attributes] {attribute} = "" says the file has no such column'
                )
        return wanted


class _Tally:
    """Counts rows and malformed rows, for SPEC §10's bound on a mostly broken read."""

    def __init__(self) -> None:
        self.rows = 0
        self.first: Malformed | None = None
        self.bad = 0
        self.every_id_known = True

    def count(self, outcome: DirectoryUser | Malformed) -> None:
        self.rows += 1
        if isinstance(outcome, Malformed):
            self.bad += 1
            self.first = self.first or outcome
            self.every_id_known &= bool(outcome.source_id)

    def check(self, bound: float, where: str) -> None:
        if self.first is None or self.bad * 100 <= bound * self.rows:
            return
        percent = f"{self.bad * 100 / self.rows:.1f}".removesuffix(".0")
        raise IncompleteRead(
            f"{where}: {self.bad} of {self.rows} rows ({percent} %) are malformed, more than "
            f"max_bad_rows_percent = {bound:g}; first: line {self.first.line}: "
            f"{self.first.problem}"
        )
