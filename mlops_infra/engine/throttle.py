"""A throttle shared by every call of a read phase: one 429 slows them all, not just itself.

When any call is told to slow down (HTTP 429 / RESOURCE_EXHAUSTED), the throttle pauses
every caller until the pause ends, doubling the pause for each 429 that arrives during it
(up to a cap) and starting small again once calls succeed. The retry layer still retries
the call that failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from mlops_infra.engine.errors import TransientError

T = TypeVar("T")
TOO_MANY_REQUESTS = 429


class Throttle:
    """Pauses all callers after a 429; ``first`` and ``cap`` are seconds."""

    def __init__(self, *, first: float = 0.5, cap: float = 8.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._first, self._cap, self._clock, self._sleep = first, cap, clock, sleep
        self._pause = first
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def call(self, fn: Callable[[], T]) -> T:
        """Wait out any pause, then run ``fn``; a 429 from it pauses everyone."""
        self._wait()
        try:
            result = fn()
        except TransientError as exc:
            if exc.status == TOO_MANY_REQUESTS:
                self._slow_down()
            raise
        self._recovered()
        return result

    def _wait(self) -> None:
        while True:
            with self._lock:
                left = self._until - self._clock()
            if left <= 0:
                return
            self._sleep(left)

    def _slow_down(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._until:                    # still paused: back off harder
                self._pause = min(self._pause * 2, self._cap)
            self._until = max(self._until, now + self._pause)
            self.pauses += 1

    def _recovered(self) -> None:
        with self._lock:
            if self._clock() >= self._until:
                self._pause = self._first
