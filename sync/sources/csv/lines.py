"""The rows of a CSV file, with the ways a file is broken as a whole turned into failed reads.

An export cut off by a full disk or an interrupted copy looks like a shorter file: the people
after the cut would be disabled. So a file that ends inside a row, inside a quoted field or
inside a character is an IncompleteRead naming the line, never a short but complete directory.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from sync.errors import IncompleteRead, SourceUnavailable

Row = tuple[int, list[str]]  # the line a row starts on, and its fields


class _Lines:
    """The file's lines for csv.reader, remembering the last one (has it a newline?)."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.last = ""

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.last = line
            yield line

    def ended(self) -> bool:
        return self.last.endswith(("\n", "\r"))


class CsvFile:
    """A CSV file read row by row: `header()` first, then `rows()`."""

    def __init__(self, path: Path, encoding: str, delimiter: str) -> None:
        self.path = path
        self.encoding = encoding
        self.name = f"CSV file {path}"
        try:
            self.handle = path.open(encoding=encoding, newline="")
        except FileNotFoundError:
            raise SourceUnavailable(f"{self.name} not found") from None
        except OSError as exc:
            raise SourceUnavailable(f"{self.name}: cannot open: {exc.strerror}") from None
        self.lines = _Lines(self.handle)
        self.reader = csv.reader(self.lines, delimiter=delimiter, strict=True)

    def close(self) -> None:
        self.handle.close()

    def header(self) -> tuple[list[str], bool]:
        """The header's names (stripped), and whether its line ended with a newline."""
        row = self._next()
        header = [h.strip() for h in row[1]] if row else []
        if not any(header):
            raise IncompleteRead(f"{self.name} is empty: it has no header row")
        return header, self.lines.ended()

    def rows(self, width: int) -> Iterator[Row]:
        """Every row but blank lines; the last is checked for a cut (`width` header fields)."""
        while (row := self._next()) is not None:
            line, values = row
            if not any(v.strip() for v in values):
                continue  # a blank line is no user
            # csv.reader only gets a line without its newline at the very end of the file
            if len(values) < width and not self.lines.ended():
                raise IncompleteRead(
                    f"{self.name}, line {line}: the file ends inside a row ({len(values)} of "
                    f"{width} fields and no final newline): the export looks cut off"
                )
            yield line, values

    def _next(self) -> Row | None:
        start = self.reader.line_num + 1
        try:
            values = next(self.reader, None)
        except UnicodeDecodeError:
            raise self._undecodable() from None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise IncompleteRead(
                    f"{self.name}, line {start}: a quoted field that starts on this line is "
                    "never closed before the end of the file: the export looks cut off "
                    "(or a quote is unbalanced)"
                ) from None
            raise IncompleteRead(f"{self.name}, line {self.reader.line_num}: {exc}") from None
        return None if values is None else (start, values)

    def _undecodable(self) -> IncompleteRead:
        line, at_end = _first_undecodable_line(self.path, self.encoding)
        if at_end:
            return IncompleteRead(
                f"{self.name}, line {line}: the file ends inside a {self.encoding} character: "
                "the export looks cut off"
            )
        return IncompleteRead(
            f"{self.name} is not valid {self.encoding} text at line {line}; "
            "set the source's encoding (cp932 for Japanese spreadsheet exports)"
        )


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, bool]:
    """The decoder reads ahead in chunks, so its error cannot say where: find the line again.
    Also says whether the bad bytes are an unfinished character at the very end of the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 1
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number, False
    return number, True
