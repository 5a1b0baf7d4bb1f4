"""A bounded LRU of per-step results with one background thread that computes the next step ahead.

Moving the slider by one checkpoint then finds the step already computed, so the page only draws.
A step being prefetched when it is asked for is waited for, not computed twice. No Streamlit here:
the worker thread must not touch a session.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

PREFETCH = "prefetch"  # name prefix of the worker threads


def in_prefetch_thread() -> bool:
    return threading.current_thread().name.split("_")[0] == PREFETCH


class StepStore:
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=PREFETCH)

    def get(self, key, compute, stats: dict | None = None):
        """The value for key, computed now or awaited from the worker; adds waited_ms / computed_ms to stats."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            fut: Future | None = self._pending.get(key)
        t0 = time.perf_counter()
        if fut is not None and not in_prefetch_thread():
            out, what = fut.result(), "waited_ms"  # being computed ahead: wait (never from our own worker)
        else:
            out, what = self._put(key, compute()), "computed_ms"
        if stats is not None:
            stats[what] = stats.get(what, 0.0) + 1e3 * (time.perf_counter() - t0)
        return out

    def prefetch(self, key, compute) -> None:
        with self._lock:
            if key in self._items or key in self._pending:
                return
            self._pending[key] = self._pool.submit(self._run, key, compute)

    def _run(self, key, compute):
        try:
            return self._put(key, compute())
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def _put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value
