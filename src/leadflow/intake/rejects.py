"""The reject report: every input row set aside, with file, line, column, value and reason."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from leadflow.ledger.export import neutral_cell

MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Reject:
    """One problem with one input row: an ``error`` sets the row aside (it is not written); a
    ``warning`` drops only this field's value, and the row goes in without it."""

    file: str
    line: int
    column: str
    value: str
    reason: str
    severity: Literal["error", "warning"] = "error"

    def message(self) -> str:
        """'file:line: column 'value': reason', the form editors and terminals link."""
        where = f" {self.column}" if self.column else ""
        shown = f" {self.value!r}" if self.value else ""
        dropped = " (this field is left out)" if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{where}{shown}: {self.reason}{dropped}"


def shorten(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    """A value fit to print: invalid bytes shown escaped, long cells cut with their length noted."""
    safe = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(safe) > limit:
        return f"{safe[:limit]}... ({len(value):,} characters)"
    return safe


def write_report(path: Path, rejects: list[Reject]) -> None:
    """Write rejects as CSV with columns file, line, column, value, reason, severity."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "line", "column", "value", "reason", "severity"])
        for r in rejects:
            cells = (r.file, r.line, r.column, r.value, r.reason, r.severity)
            writer.writerow([neutral_cell(str(cell)) for cell in cells])
