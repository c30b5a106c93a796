"""Stream a CSV file in batches of rows, setting aside records that cannot be read at all.

A record is set aside (and the rest go on) when it holds invalid UTF-8, a cell over the size
limit, or a field count that differs from the header. An unclosed quote makes the csv parser run
on into the following lines; such a record is rejected on its first line and the lines it
swallowed are read again one by one, so good rows after a broken one are never lost.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from leadflow.intake.rejects import Reject, shorten


class ReadError(ValueError):
    """The file as a whole cannot be read: missing, empty, or without a header."""


@dataclass
class Batch:
    """Rows of one batch with their physical line numbers, and the records set aside in it."""

    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


class _CountingLines:
    """Yields a file's physical lines, remembering those of the record being parsed."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.number = 0
        self.pending: list[str] = []

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.number += 1
        self.pending.append(line)
        return line


def _invalid_utf8(row: list[str]) -> int | None:
    """Index of the first cell holding undecodable bytes (kept as surrogates), else None."""
    try:
        "".join(row).encode("utf-8")
        return None
    except UnicodeEncodeError:
        for i, cell in enumerate(row):
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return i
    return None


class CsvBatches:
    """Iterate a CSV file as :class:`Batch` objects after reading its header."""

    def __init__(self, path: Path, *, batch_size: int, max_cell_chars: int) -> None:
        self.path = path
        self.batch_size = batch_size
        self.max_cell_chars = max_cell_chars
        csv.field_size_limit(max_cell_chars)
        if not path.is_file():
            raise ReadError(f"{path}: no such file")
        self.size = path.stat().st_size
        self._raw = path.open("rb")
        self._handle = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._lines = _CountingLines(self._handle)
        self._reader = csv.reader(self._lines)
        try:
            header = next(self._reader)
        except StopIteration:
            self._handle.close()
            raise ReadError(f"{path}: the file is empty; expected a header row") from None
        if _invalid_utf8(header) is not None or not any(h.strip() for h in header):
            self._handle.close()
            raise ReadError(f"{path}:1: the header row is unreadable or blank")
        self.header = header

    @property
    def position(self) -> int:
        """Bytes read so far, for progress bars."""
        return self._raw.tell()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __iter__(self) -> Iterator[Batch]:
        batch = Batch()
        width = len(self.header)
        lines, reader, name = self._lines, self._reader, str(self.path)
        while True:
            lines.pending.clear()
            start = lines.number + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self._reparse(batch, list(lines.pending), start, self._reason(exc))
                continue
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(lines.pending) > 1:
                    self._reparse(
                        batch,
                        list(lines.pending),
                        start,
                        f"expected {width} fields, found {len(row)}: a quote is not closed",
                    )
                else:
                    batch.rejects.append(
                        Reject(
                            name,
                            start,
                            "",
                            shorten(lines.pending[0].rstrip("\r\n")),
                            f"expected {width} fields, found {len(row)}",
                        )
                    )
                continue
            if not self._accept(batch, row, start):
                continue
            if len(batch.rows) >= self.batch_size:
                yield batch
                batch = Batch()
        if batch.rows or batch.rejects:
            yield batch
        self.close()

    def _accept(self, batch: Batch, row: list[str], line: int) -> bool:
        bad = _invalid_utf8(row)
        if bad is not None:
            batch.rejects.append(
                Reject(
                    str(self.path),
                    line,
                    self.header[bad],
                    shorten(row[bad]),
                    "invalid UTF-8; re-export the file as UTF-8",
                )
            )
            return False
        batch.lines.append(line)
        batch.rows.append(row)
        return True

    def _reason(self, exc: csv.Error) -> str:
        if "field larger than field limit" in str(exc):
            return f"a cell is longer than {self.max_cell_chars:,} characters"
        return f"unreadable CSV: {exc}"

    def _reparse(self, batch: Batch, physical: list[str], start: int, reason: str) -> None:
        """Reject the record's first line; read each line it swallowed as a record of its own."""
        first = physical[0].rstrip("\r\n") if physical else ""
        batch.rejects.append(Reject(str(self.path), start, "", shorten(first), reason))
        width = len(self.header)
        for offset, text in enumerate(physical[1:], start=1):
            line = start + offset
            try:
                rows = list(csv.reader([text]))
            except csv.Error as exc:
                batch.rejects.append(
                    Reject(str(self.path), line, "", shorten(text.rstrip("\r\n")), self._reason(exc))
                )
                continue
            if not rows or (len(rows[0]) == 1 and not rows[0][0].strip()):
                continue
            if len(rows) != 1 or len(rows[0]) != width:
                found = len(rows[0]) if rows else 0
                batch.rejects.append(
                    Reject(
                        str(self.path),
                        line,
                        "",
                        shorten(text.rstrip("\r\n")),
                        f"expected {width} fields, found {found}",
                    )
                )
                continue
            self._accept(batch, rows[0], line)
