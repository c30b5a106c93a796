"""Benchmark: one capture batch in-process (validate, dedupe, insert, score, route, commit), as
the server's capture process runs it, for batches of 1, 8 and 32 leads on a demo ledger.

Prints the median and p90 of each size, interleaved so that a slow minute hits every size
alike. Target (the Real-time capture issue): a batch of 8 under 8 ms.

    .venv/bin/python bench/capture.py [--leads 20000] [--rounds 100] [--sizes 1 8 32]

Wall time on a shared machine drifts by a third from one run to the next; for comparing two
versions of the code, bench/capture_instructions.py counts the instructions of a batch instead.
"""

from __future__ import annotations

import os

# as the server's capture process runs it: Polars on one thread (serve/capture_worker.py)
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leadflow.db import make_engine, session_scope
from leadflow.intake.capture import capture_leads
from leadflow.serve.heap import freeze_startup_heap
from leadflow.settings import Settings, TerritoryRule

BIN = Path(sys.executable).parent / "leadflow"
REGIONS = ["North America", "EMEA", "APAC", "LATAM"]  # the demo's territories
SIZES = (1, 8, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000, help="the demo ledger's size")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="batch sizes")
    args = parser.parse_args()
    settings = Settings()
    settings.routing.territories = [TerritoryRule(name=r, regions=[r]) for r in REGIONS]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'capture.db'}"
        subprocess.run(
            [BIN, "--db", url, "demo", "--leads", str(args.leads)], capture_output=True, check=True
        )
        subprocess.run([BIN, "--db", url, "score", "--train"], capture_output=True, check=True)
        engine = make_engine(url)
        counter = 0

        def batch(size: int) -> float:
            nonlocal counter
            records = []
            for _ in range(size):
                counter += 1
                records.append({
                    "external_id": f"bench-{counter}", "email": f"b{counter}@c{counter}.example",
                    "first_name": "Buyer", "last_name": f"No{counter}", "company": f"Company {counter}",
                    "region": REGIONS[counter % 4], "industry": "software",
                    "company_size": str(50 + counter % 500), "source": "Web form", "lead_type": "web form",
                })  # fmt: skip
            started = time.perf_counter()
            with session_scope(engine, write=True) as session:
                capture_leads(session, settings=settings, records=records, channel="bench")
            return (time.perf_counter() - started) * 1000

        for _ in range(5):
            batch(8)  # warm: the model loaded, the caches filled
        freeze_startup_heap()  # as the capture worker does after its rehearsal
        times: dict[int, list[float]] = {size: [] for size in args.sizes}
        for _ in range(args.rounds):
            for size in args.sizes:
                times[size].append(batch(size))
        engine.dispose()
    if not args.rounds:
        return  # the warm-up alone: the baseline of capture_instructions.py
    for size in args.sizes:
        median, p90 = statistics.median(times[size]), float(np.percentile(times[size], 90))
        print(
            f"batch of {size:>2}: median {median:6.1f} ms, p90 {p90:6.1f} ms, {median / size:5.2f} ms a lead"
        )
    print("target: a batch of 8 under 8 ms")


if __name__ == "__main__":
    main()
