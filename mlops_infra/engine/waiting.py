"""Waiting on long-running operations with a deadline (generic over how to poll).

Where an API has a blocking wait (Compute's ``operations.wait``), ``poll`` is that call and
returns as soon as the operation is done. Otherwise the schedule adapts to how long the
operation has run: polls come every ``interval`` seconds at first, then every ``fraction``
of the time elapsed so far (capped at ``max_interval``). A one-second operation is seen
done within about 0.1 s of finishing; a ten-minute one costs a few dozen polls, not
thousands, and is seen done within about a tenth of its duration.

An interrupted apply (Ctrl-C) calls ``stop_waiting``: every wait gives up at once with
``StoppedWaiting`` instead of sitting out an operation of ten minutes; the operation goes on at
Google and the next run waits on it (the kinds find it running). ``resume_waiting`` rearms.

A kind waiting on an operation says how it is going with ``report_progress("operation-123
RUNNING (creating cluster gke)")``: the executor routes that to the apply's progress display
for the change running on this thread (``reporting_to``), so each in-flight operation is shown
with its status beside its elapsed time. Outside an apply it goes nowhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from mlops_infra.engine.errors import StoppedWaiting, TransientError

T = TypeVar("T")
_STOP = threading.Event()
_REPORTER: ContextVar[Callable[[str], None] | None] = ContextVar("progress_reporter", default=None)


def stop_waiting() -> None:
    """Make every wait of this process give up (``StoppedWaiting``) at its next poll or pause."""
    _STOP.set()


def resume_waiting() -> None:
    """Let waits run again (an apply starts with this)."""
    _STOP.clear()


def report_progress(status: str) -> None:
    """Tell the progress display what the current change's operation is doing (a short line)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(status)


@contextmanager
def reporting_to(reporter: Callable[[str], None] | None) -> Iterator[None]:
    """Route ``report_progress`` calls made in this context (this thread) to ``reporter``."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def wait_until_done(poll: Callable[[], T | None], *, what: str, deadline: float,
                    interval: float = 0.05, max_interval: float = 30.0, fraction: float = 0.1,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], object] = _STOP.wait) -> T:
    """Call ``poll`` until it returns non-``None``; raise ``TransientError`` past ``deadline``
    seconds, ``StoppedWaiting`` once ``stop_waiting`` is called."""
    started = clock()
    while True:
        if _STOP.is_set():
            raise StoppedWaiting(f"{what}: stopped waiting (interrupted); the operation goes on, "
                                 "and the next run waits on it")
        result = poll()
        if result is not None:
            return result
        elapsed = clock() - started
        if elapsed >= deadline:
            raise TransientError(f"{what}: not done after {deadline:.0f}s")
        sleep(min(max(interval, fraction * elapsed), max_interval, deadline - elapsed))
