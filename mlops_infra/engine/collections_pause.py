"""Fewer cyclic garbage collections while a spec is loaded and a plan is built.

Loading and planning thousands of resources allocates millions of small containers that all
live until the plan is done (YAML nodes, line maps, resolved resources, live state).
CPython's cyclic collector looks at the young ones every 700 allocations and, every hundred
such passes, at everything alive: measured on a 4,530-resource spec, loading it took 1.7 to
2.2 s of CPU with the default thresholds and 0.97 s with collections off
(``benchmarks/harness.py`` and the README's Performance section). Reference counting frees
whatever is not in a cycle at once either way; with the threshold raised, cycles (a 404's
exception and its traceback, thousands in a fresh plan) wait for a collection at most
``YOUNG_THRESHOLD`` allocations away. Measured at 4,530 resources: loading takes 1.1 s at
10,000 to 100,000 (1.6 s at the default 700); a fresh plan's peak was 241 MB at 700, 238 MB
at 20,000 and 246 MB at 100,000. The previous thresholds come back when the outermost user
is done (nested and concurrent uses are counted).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000


class _Pause:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple[int, int, int] = gc.get_threshold()

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = gc.get_threshold()
                young, *older = self._saved
                gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                gc.set_threshold(*self._saved)


_PAUSE = _Pause()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's young-generation threshold for the duration."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()
