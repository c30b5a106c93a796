"""A process of its own for capturing: the batches of the group commit run there, while the
server's process parses, authenticates and answers requests.

Python runs one thread at a time per process, so in one process the capture pipeline (validate,
dedupe, score, route) and the HTTP work of the requests waiting for it take turns on one core.
With the pipeline in a second process they run side by side on two, and a batch's requests no
longer slow it down. The worker holds its own engine over the same database; batches go to it
one at a time, in the order the group commit hands them over (while one runs, the next waits in
its queue), so it is the only writer of captures, as SQLite wants.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.engine import Engine

from leadflow.db import make_engine
from leadflow.serve.capturing import Answer, CaptureRequest, capture_in_own_transaction, rehearse
from leadflow.serve.heap import freeze_startup_heap
from leadflow.settings import Settings

POLARS_THREADS = "POLARS_MAX_THREADS"
_LAUNCHING = threading.Lock()
_engine: Engine | None = None
_settings: Settings | None = None


def _start(url: str, settings: Settings) -> None:
    global _engine, _settings  # the worker process's own, made once
    _engine, _settings = make_engine(url), settings


def _ready() -> tuple[Engine, Settings]:
    assert _engine is not None and _settings is not None, "the worker was started without its engine"
    return _engine, _settings


def _rehearse() -> None:
    rehearse(*_ready())
    freeze_startup_heap()  # what the rehearsal loaded (the model, compiled statements) too


def _capture(requests: list[CaptureRequest]) -> list[Answer]:
    return capture_in_own_transaction(*_ready(), requests)


class CaptureWorker:
    """Capture batches in a child process over the database at ``url``; ``process`` is what
    the group commit calls."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self._replacing = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server's process has threads (and their locks) that fork would copy
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.url, self.settings),
        )
        # The child works batches of a few leads: Polars' thread pool costs more to wake for each
        # small operation than it saves (a string function on 8 rows: 110 µs with two threads,
        # 20 µs with one), and one thread leaves the other core to the server. Polars reads the
        # setting when it is imported, so the child must be started with it.
        with _LAUNCHING:
            before = os.environ.get(POLARS_THREADS)
            os.environ[POLARS_THREADS] = "1"
            try:
                pool.submit(int).result()  # the child starts now, under this environment
            finally:
                if before is None:
                    del os.environ[POLARS_THREADS]
                else:
                    os.environ[POLARS_THREADS] = before
        return pool

    def warm_up(self) -> None:
        """Start the child now and have it rehearse a capture, so that the first request waits
        neither for it to import leadflow nor for its first batch's one-off costs."""
        self._pool.submit(_rehearse).result()

    def process(self, requests: list[CaptureRequest]) -> list[Answer]:
        """Capture one batch in the child; if the child died, start another and raise, so that
        the group commit runs the batch's requests again one at a time (any of them committed
        before the child died is then found by dedupe and merged, not stored twice)."""
        pool = self._pool
        try:
            return pool.submit(_capture, requests).result()
        except BrokenProcessPool:
            with self._replacing:  # two batches in flight both see the child die: one new child
                if self._pool is pool:
                    self._pool = self._new_pool()
            raise

    def close(self) -> None:
        """Let the child finish its batch and exit."""
        self._pool.shutdown(wait=True)
