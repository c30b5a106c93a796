"""Group commit: requests that arrive within a few milliseconds of each other are processed in
one transaction, each answered with its own result.

Capturing a lead costs about as much for one record as for thirty (the pipeline is columnar and
each transaction has a fixed cost), so under load, batching is what lets one process keep up.
Waiting requests are coroutines awaiting a future, not threads: while one batch runs, the event
loop keeps accepting the requests that will form the next. One worker thread runs the batches
while there are any: it waits ``max_wait`` for requests to join, processes up to ``max_batch``
of them, answers each, and stops when nothing is waiting. A batch that fails as a whole is
retried one request at a time, so that one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Waiting(Generic[T, R]):
    item: T
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[R]

    def answer(self, result: R | None = None, error: BaseException | None = None) -> None:
        """Resolve the future in its own event loop (this runs in the worker thread)."""

        def resolve() -> None:
            if self.future.done():  # the request was cancelled (its client went away)
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)  # type: ignore[arg-type]

        self.loop.call_soon_threadsafe(resolve)


class GroupCommit(Generic[T, R]):
    """Run ``process`` (a list of items in, one result per item out) over concurrent callers."""

    def __init__(
        self,
        process: Callable[[list[T]], list[R]],
        *,
        max_batch: int = 64,
        max_wait: float = 0.005,
        max_delay: float = 0.015,
    ):
        self.process = process
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._waiting: list[_Waiting[T, R]] = []
        self._working = False

    async def submit(self, item: T) -> R:
        """Process ``item`` (with whatever else is waiting) and return its result or raise its error."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(item, loop, loop.create_future())
        with self._lock:
            self._waiting.append(waiting)
            start, self._working = not self._working, True
        if start:
            threading.Thread(target=self._work, name="group-commit", daemon=True).start()
        return await waiting.future

    def _work(self) -> None:
        while True:
            self._gather()
            with self._lock:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                if not batch:
                    self._working = False
                    return
            self._run(batch)

    def _gather(self) -> None:
        """Wait while requests keep arriving: until ``max_wait`` passes with none new, the batch
        is full, or ``max_delay`` has passed. The requests answered by the last batch come back
        a few milliseconds apart; waiting for only the first of them would split the callers
        into two halves that take turns, each paying a batch's fixed cost."""
        deadline = time.monotonic() + self.max_delay
        seen = -1
        while True:
            with self._lock:
                count = len(self._waiting)
            if count == seen or count >= self.max_batch or time.monotonic() >= deadline:
                return
            seen = count
            time.sleep(self.max_wait)

    def _run(self, batch: list[_Waiting[T, R]]) -> None:
        try:
            results = self.process([w.item for w in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception:
            for waiting in batch:
                try:
                    waiting.answer(self.process([waiting.item])[0])
                except Exception as exc:  # this request's own failure, raised in its coroutine
                    waiting.answer(error=exc)
            return
        for waiting, result in zip(batch, results, strict=True):
            waiting.answer(result)
