"""Benchmark: the CPU instructions of one capture batch, counted by valgrind's callgrind.

Wall time on a shared 2-core machine drifts by a third between runs, so two versions of the code
are hard to tell apart by it; instruction counts repeat to a fraction of a percent. Runs
bench/capture.py under callgrind twice, with the warm-up only and with ``--rounds`` batches more,
and prints the difference a batch. No target of its own: it compares versions (see
bench/capture.py for the 8 ms target). Takes about 5 minutes; needs valgrind.

    .venv/bin/python bench/capture_instructions.py [--size 8] [--rounds 40]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

CAPTURE = Path(__file__).with_name("capture.py")


def instructions(rounds: int, size: int) -> int:
    """All instructions of one bench/capture.py run (the demo it builds runs outside valgrind)."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, str(CAPTURE),
         "--rounds", str(rounds), "--sizes", str(size)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    base, loaded = instructions(0, args.size), instructions(args.rounds, args.size)
    per_batch = (loaded - base) / args.rounds
    print(
        f"batch of {args.size}: {per_batch / 1e6:.2f} M instructions ({args.rounds} batches under callgrind)"
    )


if __name__ == "__main__":
    main()
