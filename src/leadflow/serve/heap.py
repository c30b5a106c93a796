"""Keep Python's garbage collector from pausing a server for the objects it started with.

A process that has imported FastAPI, SQLAlchemy, Polars and scikit-learn and loaded a model holds
about a million objects that live as long as it does. The collector's oldest generation is
scanned whenever enough objects have survived since its last pass; under 300 requests a second
that was every 3-4 s in the server, each pass 130-180 ms with every request in the process
waiting (measured 2026-12-05: the p99 of `POST /v1/leads` was those pauses). Frozen, those objects
are never scanned again; what requests create is still collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's reach for good."""
    gc.collect()
    gc.freeze()
