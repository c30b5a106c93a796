"""Group commit: requests that arrive within a few milliseconds of each other are processed in
one transaction, each answered with its own result.

Capturing a lead costs about as much for one record as for thirty (the pipeline is columnar and
each transaction has a fixed cost), so under load, batching is what lets one process keep up. The
first waiting request leads: it waits ``max_wait`` for others to join, processes up to
``max_batch`` of them, then hands the lead to the next waiting request, so no request serves
others after its own answer is ready. A batch that fails as a whole is retried one request at a
time, so that one bad request cannot fail the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Slot(Generic[T, R]):
    item: T
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Run ``process`` (a list of items in, one result per item out) over concurrent callers."""

    def __init__(
        self, process: Callable[[list[T]], list[R]], *, max_batch: int = 64, max_wait: float = 0.003
    ):
        self.process = process
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._waiting: list[_Slot[T, R]] = []
        self._leading = False

    def submit(self, item: T) -> R:
        """Process ``item`` (with whatever else is waiting) and return its result or raise its error."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            if not self._leading:
                self._leading = slot.lead = True
        while not slot.done:
            if slot.lead:
                self._lead()
            else:
                slot.ready.wait()
                slot.ready.clear()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        time.sleep(self.max_wait)  # let the requests arriving now join this batch
        with self._lock:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
        self._run(batch)
        with self._lock:
            for slot in batch:
                slot.lead = False
            if self._waiting:
                self._waiting[0].lead = True
                self._waiting[0].ready.set()
            else:
                self._leading = False
        for slot in batch:
            slot.done = True
            slot.ready.set()

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self.process([s.item for s in batch])
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        except Exception:
            for slot in batch:
                try:
                    slot.result = self.process([slot.item])[0]
                except Exception as exc:  # this request's own failure, raised in its thread
                    slot.error = exc
