"""Waiting on long-running operations with a deadline (generic over how to poll).

Where an API has a blocking wait (Compute's ``operations.wait``), ``poll`` is that call and
returns as soon as the operation is done. Otherwise the schedule adapts to how long the
operation has run: polls come every ``interval`` seconds at first, then every ``fraction``
of the time elapsed so far (capped at ``max_interval``). A one-second operation is seen
done within about 0.1 s of finishing; a ten-minute one costs a few dozen polls, not
thousands, and is seen done within about a tenth of its duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from mlops_infra.engine.errors import TransientError

T = TypeVar("T")


def wait_until_done(poll: Callable[[], T | None], *, what: str, deadline: float,
                    interval: float = 0.05, max_interval: float = 30.0, fraction: float = 0.1,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``poll`` until it returns non-``None``; raise ``TransientError`` past ``deadline`` seconds."""
    started = clock()
    while True:
        result = poll()
        if result is not None:
            return result
        elapsed = clock() - started
        if elapsed >= deadline:
            raise TransientError(f"{what}: not done after {deadline:.0f}s")
        sleep(min(max(interval, fraction * elapsed), max_interval, deadline - elapsed))
