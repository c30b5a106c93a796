"""Group commit: requests that arrive within a few milliseconds of each other are processed in
one transaction, each answered with its own result.

Capturing a lead costs about as much for one record as for thirty (the pipeline is columnar and
each transaction has a fixed cost), so under load, batching is what lets one process keep up.
Waiting requests are coroutines awaiting a future, not threads: while one batch runs, the event
loop keeps accepting the requests that will form the next. One worker thread runs the batches
while there are any: a request arriving at an idle worker waits ``max_wait`` for others to join
it; after a batch of several, the worker waits up to ``max_delay`` for as many callers as it
answered to be back (see _await_callers); then up to ``max_batch`` go together. The worker stops
when nothing is waiting. A batch that fails as a whole is retried one request at a time,
so that one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
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

        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits for this answer
            self.loop.call_soon_threadsafe(resolve)


class GroupCommit(Generic[T, R]):
    """Run ``process`` (a list of items in, one result per item out) over concurrent callers."""

    def __init__(
        self,
        process: Callable[[list[T]], list[R]],
        *,
        max_batch: int = 64,
        max_wait: float = 0.003,
        max_delay: float = 0.03,
    ):
        self.process = process
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified by each submit
        self._waiting: list[_Waiting[T, R]] = []
        self._working = False

    async def submit(self, item: T) -> R:
        """Process ``item`` (with whatever else is waiting) and return its result or raise its error."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(item, loop, loop.create_future())
        with self._lock:
            self._waiting.append(waiting)
            start, self._working = not self._working, True
            self._arrived.notify()
        if start:
            threading.Thread(target=self._work, name="group-commit", daemon=True).start()
        return await waiting.future

    def _work(self) -> None:
        waited = False
        while True:
            with self._lock:
                if not waited and len(self._waiting) < self.max_batch:
                    batch = None
                else:
                    batch = self._waiting[: self.max_batch]
                    del self._waiting[: self.max_batch]
                    if not batch:
                        self._working = False
                        return
            if batch is None:
                time.sleep(self.max_wait)  # let the requests arriving now join this batch
                waited = True
                continue
            self._run(batch)
            if len(batch) > 1:
                self._await_callers(len(batch))
            with self._lock:  # those that arrived during this batch have waited long enough
                waited = bool(self._waiting)

    def _await_callers(self, answered: int) -> None:
        """After a batch with company, wait up to ``max_delay`` for as many requests as it
        answered to be waiting besides those already waiting: clients that post one lead after
        another come back together, and a batch started before they do splits them in two."""
        with self._arrived:
            wanted = min(self.max_batch, len(self._waiting) + answered)
            self._arrived.wait_for(lambda: len(self._waiting) >= wanted, timeout=self.max_delay)

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
