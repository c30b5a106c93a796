"""Stream a CSV file in batches of rows, setting aside records that cannot be read at all.

A record is set aside (and the rest go on) when it holds invalid UTF-8 or a NUL, a cell over the size
limit, or a field count that differs from the header. An unclosed quote makes the csv parser run
on into the following lines; such a record is rejected on its first line and the lines it
swallowed are read again one by one, so good rows after a broken one are never lost.

The fast path is Python's csv module with nothing per line on top of it; the physical lines of a
broken record are fetched only when needed, by a second handle that follows the first.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from leadflow.errors import LeadflowError
from leadflow.intake.rejects import Reject, shorten

ENCODING = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": ""}


class ReadError(LeadflowError, ValueError):
    """The file as a whole cannot be read: missing, empty, or without a header."""


@dataclass
class Batch:
    """Rows of one batch with their physical line numbers, and the records set aside in it."""

    lines: list[int] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def _invalid_utf8(row: list[str]) -> int | None:
    """Index of the first cell holding undecodable bytes (kept as surrogates), else None."""
    for i, cell in enumerate(row):
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


class _LineFetcher:
    """Reads given physical lines of the file with a second handle that only moves forward."""

    def __init__(self, path: Path) -> None:
        self._handle: TextIO | None = None
        self._path = path
        self._next = 1

    def lines(self, first: int, last: int) -> list[str]:
        if self._handle is None:
            self._handle = self._path.open(**ENCODING)  # type: ignore[call-overload]
        assert self._handle is not None and first >= self._next
        skipped = itertools.islice(self._handle, first - self._next)
        for _ in skipped:
            pass
        self._next = last + 1
        return list(itertools.islice(self._handle, last - first + 1))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


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
        self._handle = io.TextIOWrapper(self._raw, **ENCODING)  # type: ignore[arg-type]
        self._reader = csv.reader(self._handle)
        self._fetcher = _LineFetcher(path)
        try:
            header = next(self._reader)
        except StopIteration:
            self.close()
            raise ReadError(f"{path}: the file is empty; expected a header row") from None
        if _invalid_utf8(header) is not None or not any(h.strip() for h in header):
            self.close()
            raise ReadError(f"{path}:1: the header row is unreadable or blank")
        self.header = header

    @property
    def position(self) -> int:
        """Bytes read so far, for progress bars."""
        return self._raw.tell()

    def estimated_rows(self, sample_bytes: int = 1 << 20) -> int:
        """About how many rows the file holds, from the line length of its first megabyte."""
        with self.path.open("rb") as handle:
            sample = handle.read(sample_bytes)
        lines = sample.count(b"\n") + (not sample.endswith(b"\n"))
        if len(sample) < sample_bytes:
            return max(lines - 1, 0)
        return round(self.size * lines / len(sample)) - 1

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
        self._fetcher.close()

    def __iter__(self) -> Iterator[Batch]:
        batch = Batch()
        width = len(self.header)
        reader = self._reader
        done = reader.line_num
        while True:
            start = done + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                done = reader.line_num
                self._reparse(batch, start, done, self._reason(exc))
                continue
            done = reader.line_num
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line
                if done > start:
                    reason = f"expected {width} fields, found {len(row)}: a quote is not closed"
                    self._reparse(batch, start, done, reason)
                else:
                    batch.rejects.append(
                        Reject(str(self.path), start, "", shorten(",".join(row)),
                               f"expected {width} fields, found {len(row)}")
                    )  # fmt: skip
                continue
            batch.lines.append(start)
            batch.rows.append(row)
            if len(batch.rows) >= self.batch_size:
                yield self._checked(batch)
                batch = Batch()
        if batch.rows or batch.rejects:
            yield self._checked(batch)
        self.close()

    def _checked(self, batch: Batch) -> Batch:
        """Set aside rows with undecodable bytes or a NUL character (no database stores it in
        text: PostgreSQL refuses the whole statement); one pass over the batch when all are fine."""
        joined = "\x1f".join(["\x1f".join(row) for row in batch.rows])
        try:
            joined.encode("utf-8")
            if "\x00" not in joined:
                return batch
        except UnicodeEncodeError:
            pass
        kept = Batch(rejects=batch.rejects)
        for line, row in zip(batch.lines, batch.rows, strict=True):
            bad = _invalid_utf8(row)
            reason = "invalid UTF-8; re-export the file as UTF-8"
            if bad is None:
                bad = next((i for i, cell in enumerate(row) if "\x00" in cell), None)
                reason = "a NUL character, which is not text; the file is damaged or not a CSV export"
            if bad is None:
                kept.lines.append(line)
                kept.rows.append(row)
            else:
                kept.rejects.append(
                    Reject(
                        str(self.path),
                        line,
                        self.header[bad],
                        shorten(row[bad].replace("\x00", "\\0")),
                        reason,
                    )
                )
        return kept

    def _reason(self, exc: csv.Error) -> str:
        if "field larger than field limit" in str(exc):
            return f"a cell is longer than {self.max_cell_chars:,} characters"
        return f"unreadable CSV: {exc}"

    def _reparse(self, batch: Batch, first: int, last: int, reason: str) -> None:
        """Reject the record's first line; read each line it swallowed as a record of its own."""
        physical = self._fetcher.lines(first, last)
        head = physical[0].rstrip("\r\n") if physical else ""
        batch.rejects.append(Reject(str(self.path), first, "", shorten(head), reason))
        width = len(self.header)
        for line, text in enumerate(physical[1:], start=first + 1):
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
                    Reject(str(self.path), line, "", shorten(text.rstrip("\r\n")),
                           f"expected {width} fields, found {found}")
                )  # fmt: skip
                continue
            batch.lines.append(line)
            batch.rows.append(rows[0])
